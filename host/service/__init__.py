"""The alliance's service host: the back office and the issuer behind network front doors.

The handlers are sans I/O, over the same services a terminal's in-process link runs
(:mod:`.services`). The ISO 8583 door (:mod:`.core`: a message's bytes in, the answer's
bytes out) carries authorisations over TCP (:mod:`.tcp_server`; the dialect in
:mod:`.iso8583`, the mapping of the link's requests in :mod:`.messages`). The HTTP/JSON
door (:mod:`.http_core`: a request in, its answer out; the routes in :mod:`.operations`)
carries the rest of the link and two queries, in a Starlette app served by uvicorn
(:mod:`.http_app`). :mod:`.runner` runs both on one event loop. Terminals are
authenticated by a MAC under their own key (:mod:`.mac`, :mod:`.http_auth`,
:mod:`.terminals`) and their requests are acted on once (:mod:`.replay`,
:mod:`.idempotency`). docs/host.md shows it running; docs/iso8583.md lists the fields.

:mod:`.iso8583`, :mod:`.mac`, :mod:`.messages`, :mod:`.http_auth` and :mod:`.api` import no
back office: the terminal's network link (:mod:`host.pos.network_link`) encodes with them.
"""
