"""The records terminals produce and the back office consumes, with no database code.

- :mod:`.batch` — a terminal's batch of card transactions (:class:`PurseRecord`,
  :class:`PaymentRecord`, :class:`TerminalBatch`) and its JSON form (``BATCH_FORMAT``,
  :func:`parse_batch`, :func:`record_to_dict`);
- :mod:`.assets` — the assets records name (:class:`Asset`, :func:`check_amount`);
- :mod:`.ids` — the ids they carry (:func:`check_id`, :func:`check_terminal_id`);
- :mod:`.errors` — the typed errors the back office answers with, which a terminal catches.

``host.pos`` and ``host.points`` meet ``host.backoffice`` here and never import it: a POS
integrator ships no ledger.
"""

from host.records.assets import Asset, check_amount
from host.records.batch import (
    BATCH_FORMAT,
    PaymentRecord,
    PurseRecord,
    Record,
    TerminalBatch,
    parse_batch,
    record_to_dict,
)
from host.records.errors import InvalidRecordError, ValidationError
from host.records.ids import check_id, check_terminal_id

__all__ = [
    "BATCH_FORMAT",
    "Asset",
    "InvalidRecordError",
    "PaymentRecord",
    "PurseRecord",
    "Record",
    "TerminalBatch",
    "ValidationError",
    "check_amount",
    "check_id",
    "check_terminal_id",
    "parse_batch",
    "record_to_dict",
]
