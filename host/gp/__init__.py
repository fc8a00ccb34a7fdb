"""GlobalPlatform host side: key specs, secure channel (SCP03/SCP02) and a typed client.

Layers (style lesson 8): :mod:`.apdus` and :mod:`.secure_channel` are sans-I/O
building blocks; :class:`GPClient` is the safe layer integrators use.
"""

from .apdus import DGI
from .client import CardStates, GPClient, Subset
from .errors import (
    AuthenticationError,
    CardError,
    GPError,
    GPUsageError,
    KCVMismatchError,
    KeySpecError,
    ResponseError,
    UnknownKeySetError,
)
from .keyspec import KeyResolver, KeySpec, MasterKeys, parse_key_spec
from .secure_channel import (
    ChannelOptions,
    SecureChannel,
    card_authentication_flow,
    run_flow,
    secure_channel_flow,
)

__all__ = [
    "DGI",
    "AuthenticationError",
    "CardError",
    "CardStates",
    "ChannelOptions",
    "GPClient",
    "GPError",
    "GPUsageError",
    "KCVMismatchError",
    "KeyResolver",
    "KeySpec",
    "KeySpecError",
    "MasterKeys",
    "ResponseError",
    "SecureChannel",
    "Subset",
    "UnknownKeySetError",
    "card_authentication_flow",
    "parse_key_spec",
    "run_flow",
    "secure_channel_flow",
]
