"""Quality assurance against any card: APDU scripts, record/replay, the conformance suite.

Everything here talks to chips through :class:`host.transport.base.Transport` only, so
the same script, trace or suite runs against the in-process simulator, the virtual
reader (pcscd + vpcd) or a real card in a real reader.
"""

from host.qa.errors import QAError, ScriptSyntaxError, TraceFormatError
from host.qa.patterns import DataPattern, SWPattern, parse_sw_list

__all__ = [
    "DataPattern",
    "QAError",
    "SWPattern",
    "ScriptSyntaxError",
    "TraceFormatError",
    "parse_sw_list",
]
