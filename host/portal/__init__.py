"""The alliance portal (F12): consumers, merchants, insurers and the alliance's operators log
in with an account and a password and see what they own, as server-rendered pages on the
service host's ASGI app (``/portal``), or alone (``dualcard portal serve``).

- :mod:`.schema` its tables, beside the back office's in the same database;
- :mod:`.auth` portal accounts (argon2id), login throttling, reset codes;
- :mod:`.sessions` server-side sessions and their CSRF tokens;
- :mod:`.views` what each role sees, every query scoped to the logged-in member;
- :mod:`.charts` bar charts drawn as SVG on the server; :mod:`.i18n` the UI strings;
- :mod:`.app` the Starlette app and :func:`~.app.mount_portal`.
"""
