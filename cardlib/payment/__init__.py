"""Chip 1's payment directory and debit/credit applications (EMV-style contact flows).

Importing this package registers the load file that INSTALL instantiates
(:data:`PAYMENT_LOAD_FILE`): module ``…0181`` for the directories
``1PAY.SYS.DDF01``/``2PAY.SYS.DDF01`` and module ``…0180`` for the applications.
"""

from __future__ import annotations

from apdu_specs.payment.aids import APPLICATION_MODULE_AID, DIRECTORY_MODULE_AID, LOAD_FILE_AID
from cardlib.registry import LoadFile, register_load_file

from .application import PaymentApplication
from .directory import PaymentDirectory
from .install import install_payment

__all__ = ["PAYMENT_LOAD_FILE", "PaymentApplication", "PaymentDirectory", "install_payment"]

PAYMENT_LOAD_FILE = register_load_file(LoadFile(LOAD_FILE_AID, "dualcard payment", {
    DIRECTORY_MODULE_AID: PaymentDirectory,
    APPLICATION_MODULE_AID: PaymentApplication,
}))
