"""Names of chip 1's payment directory and applications.

The applications use a proprietary registered application provider identifier
(RID ``F000000001``): dualcard never claims a real payment scheme's AID. The
directories keep the EMV names: ``1PAY.SYS.DDF01`` (PSE, contact; EMV Book 1 §12.2)
and ``2PAY.SYS.DDF01`` (PPSE, the proximity entry point many terminals also try).
"""

from __future__ import annotations

__all__ = [
    "APPLICATION_MODULE_AID",
    "CREDIT_AID",
    "DEBIT_AID",
    "DIRECTORY_MODULE_AID",
    "LOAD_FILE_AID",
    "PPSE_NAME",
    "PSE_NAME",
    "RID",
]

RID = bytes.fromhex("F000000001")
PSE_NAME = b"1PAY.SYS.DDF01"
PPSE_NAME = b"2PAY.SYS.DDF01"
DEBIT_AID = bytes.fromhex("F0000000010101")
CREDIT_AID = bytes.fromhex("F0000000010102")

#: the executable load file holding both payment modules (GlobalPlatform INSTALL names it)
LOAD_FILE_AID = bytes.fromhex("F00000000101")
#: module instantiated for 1PAY.SYS.DDF01 and 2PAY.SYS.DDF01
DIRECTORY_MODULE_AID = bytes.fromhex("F0000000010181")
#: module instantiated for the debit and the credit application
APPLICATION_MODULE_AID = bytes.fromhex("F0000000010180")
