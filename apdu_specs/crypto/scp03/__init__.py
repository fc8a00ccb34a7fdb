"""GlobalPlatform SCP03 (GPC 2.3 Amendment D) as pure math shared by card and host.

AES-128/192/256 as specified; an SM4 variant with the same construction (SM4-CMAC KDF,
SM4-CBC encryption, 16-byte keys) is selected by ``StaticKeys(algorithm=Algorithm.SM4)``.
"""

from apdu_specs.crypto.keyset import StaticKeys
from apdu_specs.crypto.scp03.handshake import (
    CardHandshake,
    HostHandshake,
    InitializeUpdateResponse,
)
from apdu_specs.crypto.scp03.keys import (
    DerivationConstant,
    SessionKeys,
    card_cryptogram,
    derive_session_keys,
    host_cryptogram,
    pseudo_random_card_challenge,
)
from apdu_specs.crypto.scp03.params import (
    SCP03_SECURITY_LEVELS,
    IParameter,
    SCP03Mode,
    SecurityLevel,
)
from apdu_specs.crypto.scp03.session import SCP03Session

__all__ = [
    "SCP03_SECURITY_LEVELS",
    "CardHandshake",
    "DerivationConstant",
    "HostHandshake",
    "IParameter",
    "InitializeUpdateResponse",
    "SCP03Mode",
    "SCP03Session",
    "SecurityLevel",
    "SessionKeys",
    "StaticKeys",
    "card_cryptogram",
    "derive_session_keys",
    "host_cryptogram",
    "pseudo_random_card_challenge",
]
