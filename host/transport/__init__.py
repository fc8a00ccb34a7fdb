"""How the host reaches a chip: one small interface, wrappers that compose, PC/SC.

pyscard is imported only when a PC/SC reader is actually used.
"""

from __future__ import annotations

from host._lazy import lazy_exports

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

__getattr__, __dir__ = lazy_exports(__name__, {
    ".base": (
        "CardRemovedError", "NoCardError", "NoReaderError", "ReaderAmbiguousError",
        "ReaderSpecError", "Transport", "TransportError", "TransportFailure", "TransportWrapper",
    ),
    ".pcsc": ("PCSCTransport", "PCSCUnavailableError", "list_pcsc_readers"),
    ".reader_select": ("select_card_readers", "select_reader"),
    ".reader_uri": ("PCSCAddress", "SimAddress", "parse_reader_uri"),
    ".t0": ("T0Transport",),
    ".trace": ("Tracer", "TracingTransport"),
})
