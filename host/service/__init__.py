"""The alliance's service host: the back office and the issuer behind a network front door.

The handlers (:mod:`.core`) are sans I/O — a message's bytes in, the answer's bytes out —
over the same services a terminal's in-process link runs (:mod:`.services`). The front
door of this release is ISO 8583 over TCP (:mod:`.tcp_server`; the dialect in
:mod:`.iso8583`, the mapping of the link's requests in :mod:`.messages`). Terminals are
authenticated by a MAC under their own key (:mod:`.mac`, :mod:`.terminals`) and their
requests are acted on once (:mod:`.replay`). docs/host.md shows it running; docs/iso8583.md
lists the fields.

:mod:`.iso8583`, :mod:`.mac` and :mod:`.messages` import no back office: the terminal's
network link (:mod:`host.pos.network_link`) encodes with them.
"""
