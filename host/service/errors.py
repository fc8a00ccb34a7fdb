"""Typed errors of the service host and its wire format.

What the peer sent wrong (a message that does not decode, a field that breaks the
alliance's dialect) is a :class:`MessageFormatError`: the handler answers it with response
code 30 and never lets it escape. What the operator asked wrong (an unknown terminal to key,
a key file that exists) is a :class:`ServiceConfigurationError`: the CLI prints one line.
"""

from __future__ import annotations

from apdu_specs.errors import DualcardError, LocalError, RemoteError

__all__ = [
    "ISOFramingError",
    "MessageFormatError",
    "ServiceConfigurationError",
    "ServiceError",
]


class ServiceError(DualcardError):
    """Base of the service host's errors."""


class MessageFormatError(ServiceError, RemoteError, ValueError):
    """A message that does not follow the alliance's ISO 8583 dialect; names the field."""


class ISOFramingError(ServiceError, RemoteError, ValueError):
    """Bytes that cannot be cut into messages (a length prefix out of range): the
    connection cannot be trusted to be in step any more and is closed."""


class ServiceConfigurationError(ServiceError, LocalError):
    """The service or a terminal registration cannot be set up as asked."""
