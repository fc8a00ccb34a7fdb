"""How the host reaches a chip: one small interface, wrappers that compose, PC/SC.

pyscard is imported only when a PC/SC reader is actually used.
"""

from host.transport.base import (
    CardRemovedError,
    NoCardError,
    NoReaderError,
    ReaderAmbiguousError,
    ReaderSpecError,
    Transport,
    TransportError,
    TransportFailure,
    TransportWrapper,
)
from host.transport.pcsc import PCSCTransport, PCSCUnavailableError, list_pcsc_readers
from host.transport.reader_select import select_card_readers, select_reader
from host.transport.reader_uri import PCSCAddress, SimAddress, parse_reader_uri
from host.transport.t0 import T0Transport
from host.transport.trace import Tracer, TracingTransport

__all__ = [
    "CardRemovedError",
    "NoCardError",
    "NoReaderError",
    "PCSCAddress",
    "PCSCTransport",
    "PCSCUnavailableError",
    "ReaderAmbiguousError",
    "ReaderSpecError",
    "SimAddress",
    "T0Transport",
    "Tracer",
    "TracingTransport",
    "Transport",
    "TransportError",
    "TransportFailure",
    "TransportWrapper",
    "list_pcsc_readers",
    "parse_reader_uri",
    "select_card_readers",
    "select_reader",
]
