"""Read APDU traces back and decode them: every command named from the specs, its fields,
its answer's fields and status word, secure messaging undone where keys are given."""

from host.qa.trace.decode import DecodedExchange, TraceEvent, decode_trace
from host.qa.trace.reader import TraceLine, command_bytes, load_trace_lines, read_trace_lines
from host.qa.trace.render import render_text, to_json
from host.qa.trace.secure import ChannelObserver, Protection

__all__ = [
    "ChannelObserver",
    "DecodedExchange",
    "Protection",
    "TraceEvent",
    "TraceLine",
    "command_bytes",
    "decode_trace",
    "load_trace_lines",
    "read_trace_lines",
    "render_text",
    "to_json",
]
