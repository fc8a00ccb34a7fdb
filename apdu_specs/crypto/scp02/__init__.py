"""GlobalPlatform SCP02 (3DES) as pure math shared by card and host: session keys,
cryptograms, C-MAC with ICV chaining and C-DECRYPTION (no R-MAC)."""

from apdu_specs.crypto.scp02.handshake import (
    SCP02CardHandshake,
    SCP02HostHandshake,
    SCP02InitializeUpdateResponse,
)
from apdu_specs.crypto.scp02.keys import (
    SCP02SessionKeys,
    card_cryptogram,
    derive_session_keys,
    host_cryptogram,
)
from apdu_specs.crypto.scp02.session import SCP02_SECURITY_LEVELS, SCP02Session

__all__ = [
    "SCP02_SECURITY_LEVELS",
    "SCP02CardHandshake",
    "SCP02HostHandshake",
    "SCP02InitializeUpdateResponse",
    "SCP02Session",
    "SCP02SessionKeys",
    "card_cryptogram",
    "derive_session_keys",
    "host_cryptogram",
]
