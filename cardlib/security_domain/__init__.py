"""The GlobalPlatform issuer security domain of a simulated chip.

Importing this package registers the ISD's load file (``F044435344``, module
``F04443534401``) so INSTALL and card images find it. :func:`install_isd` makes a
blank chip; :class:`IssuerSecurityDomain` is the applet.
"""

from .applet import ISD_LOAD_FILE, IssuerSecurityDomain
from .blank import blank_chip, factory_keys, install_isd
from .constants import (
    INITIAL_KVN,
    ISD_AID,
    ISD_LOAD_FILE_AID,
    ISD_MODULE_AID,
    ISD_PRIVILEGES,
    TEST_KEY,
)
from .identity import CardIdentity
from .keystore import KeySet
from .lifecycle import selectable_in_card_state
from .profile import ISDProfile, Suite

__all__ = [
    "INITIAL_KVN",
    "ISD_AID",
    "ISD_LOAD_FILE",
    "ISD_LOAD_FILE_AID",
    "ISD_MODULE_AID",
    "ISD_PRIVILEGES",
    "TEST_KEY",
    "CardIdentity",
    "ISDProfile",
    "IssuerSecurityDomain",
    "KeySet",
    "Suite",
    "blank_chip",
    "factory_keys",
    "install_isd",
    "selectable_in_card_state",
]
