"""Documented exit codes of the ``dualcard`` command (scripts may rely on them)."""

from __future__ import annotations

from enum import IntEnum

__all__ = ["ExitCode"]


class ExitCode(IntEnum):
    OK = 0
    FAILURE = 1  #: anything not listed below
    USAGE = 2  #: bad arguments or input files (click's own code for usage errors)
    NO_READER = 3  #: no reader, or the reader name is ambiguous
    NO_CARD = 4  #: no card in the reader, or it was removed
    AUTHENTICATION = 5  #: bad key or cryptogram: stop, do not retry (keys may lock)
    CARD_ERROR = 6  #: the card answered an error status word
    VERIFY_MISMATCH = 7  #: read-back after a write did not match
    PARTIAL_BATCH = 8  #: a batch finished with some items failed (see its report)
    HSM_PIN = 10  #: the token's user PIN is missing, wrong or locked
    HSM_NO_TOKEN = 11  #: no such token, or its PKCS#11 module cannot be loaded
    HSM_NO_KEY = 12  #: the token holds no key object of that name
    HSM_KEY_TYPE = 13  #: a key object of the wrong type, or an operation the token cannot do
    INTERRUPTED = 130


HELP = """\b
Exit codes: 0 ok · 1 failure · 2 usage · 3 no/ambiguous reader · 4 no card ·
5 authentication failure (do not retry) · 6 card error SW · 7 verify mismatch ·
8 partial batch failure · 10 token PIN · 11 no token · 12 no key object ·
13 wrong key type · 130 interrupted"""
