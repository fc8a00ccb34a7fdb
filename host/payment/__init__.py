"""Chip 1 payments on the host: the typed card client, a POS purchase flow, the issuer.

- :mod:`.client` — :class:`PaymentClient`, one method per card command, over any transport.
- :mod:`.purchase` — a full chip purchase as a terminal runs it.
- :mod:`.issuer` — what a back office or an acquirer simulator calls: verify the ARQC,
  decide, answer with an ARPC and issuer scripts.
- :mod:`.perso` / :mod:`.stripe` — the issuer's personalisation data for chip 1 and the
  magnetic stripe.
"""
