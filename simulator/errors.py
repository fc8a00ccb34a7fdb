"""Events of the simulated card that are not status words."""

from __future__ import annotations

from apdu_specs.errors import RemoteError


class CardMute(RemoteError):
    """The chip gave no answer: it is unpowered, was torn, or was pulled out.

    A reader reports this as a removed or mute card; the vpcd bridge drops the
    connection so that pcscd sees exactly that.
    """
