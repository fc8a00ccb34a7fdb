"""A merchant's stamp card: an example applet for dualcard simulated chips.

- :mod:`.specs` — the commands (pure protocol, shared by both sides);
- :mod:`.applet` — the card side; importing it registers the load file, and an
  installed distribution declares it in the ``dualcard.applets`` entry-point group;
- :mod:`.client` — the host side, which never loads card-side code.
"""
