"""The payment directories: PSE ``1PAY.SYS.DDF01`` and PPSE ``2PAY.SYS.DDF01``.

One applet class serves both; personalisation makes the difference. The PSE's FCI
names the SFI of its directory file (88) and READ RECORD returns directory records
(``70 { 61 { 4F AID, 50 label, 87 priority } … }``); the PPSE lists the same
applications in its FCI (``BF0C { 61 … }``) and has no records (EMV Book 1 §12.2).
"""

from __future__ import annotations

from typing import Any

from apdu_specs.commands.iso7816 import READ_RECORD
from cardlib.applet import APDUContext, Applet, handles

from .perso import personalize_directory
from .records import RecordFile, build_fci

__all__ = ["PaymentDirectory"]


class PaymentDirectory(Applet):
    title = "payment directory (PSE / PPSE)"
    multiselectable = True

    def select(self, ctx: APDUContext) -> bytes:
        return build_fci(self.aid, self.store.get("fci"))

    def personalize(self, dgi: int, data: bytes) -> None:
        personalize_directory(self.store, dgi, data)

    def end_personalization(self) -> None:
        if self.store.get("fci") is not None:
            self.mark_personalized()

    @handles(READ_RECORD)
    def read_record(self, ctx: APDUContext, fields: dict[str, Any]) -> bytes:
        return RecordFile(self.store).read(fields["record"], fields["reference"])
