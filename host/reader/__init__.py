"""The personal reader (host side): bound to one card, authenticated by it, with its keys.

The card enforces the binding (:mod:`cardlib.payment.binding`, specs in
:mod:`apdu_specs.commands.binding`); this package is the reader's and the issuer's side.
"""

from .client import BindingClient, CardIdentity
from .errors import (
    CardNotBoundHereError,
    CardProofError,
    PersonalModeError,
    ReaderError,
    ReaderKeyError,
)
from .issuer import BindingIssuer
from .keystore import ReaderKeyStore
from .personal import PersonalReader, bind, unbind

__all__ = ["BindingClient", "BindingIssuer", "CardIdentity", "CardNotBoundHereError",
           "CardProofError", "PersonalModeError", "PersonalReader", "ReaderError",
           "ReaderKeyError", "ReaderKeyStore", "bind", "unbind"]
