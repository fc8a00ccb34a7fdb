"""INITIALIZE UPDATE and EXTERNAL AUTHENTICATE as the handshakes send and read them
(package private).

The commands and the INITIALIZE UPDATE answer have one codec, their command specs in
:mod:`apdu_specs.commands.globalplatform` — the card dispatcher, the host and the
conformance suite use the same ones. The SCP02 and SCP03 handshakes call them through
these few functions, which only turn a spec's refusal (:class:`SpecError`) into this
package's :class:`FormatError`, so that every error of a handshake is a ``CryptoError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from apdu_specs.commands.globalplatform import EXTERNAL_AUTHENTICATE, INITIALIZE_UPDATE
from apdu_specs.crypto.errors import FormatError
from apdu_specs.errors import SpecError

__all__ = ["EXTERNAL_AUTHENTICATE_INS", "answer_fields", "encode_answer",
           "external_authenticate", "external_authenticate_fields", "initialize_update"]

#: the INS the C-MAC of EXTERNAL AUTHENTICATE covers
EXTERNAL_AUTHENTICATE_INS = EXTERNAL_AUTHENTICATE.ins


def initialize_update(cla: int, kvn: int, host_challenge: bytes) -> bytes:
    """The INITIALIZE UPDATE command with ``host_challenge`` for key set ``kvn``."""
    try:
        return INITIALIZE_UPDATE.build(key_version=kvn, data={"host_challenge": host_challenge},
                                       cla=cla).encode()
    except SpecError as exc:
        raise FormatError(str(exc)) from None


def answer_fields(data: bytes) -> dict[str, Any]:
    """The fields of an INITIALIZE UPDATE answer (without SW), in the layout of its SCP."""
    try:
        fields: dict[str, Any] = INITIALIZE_UPDATE.parse_response(data)
    except SpecError as exc:
        raise FormatError(str(exc)) from None
    return fields


def encode_answer(fields: Mapping[str, Any]) -> bytes:
    """The INITIALIZE UPDATE answer (without SW) of ``fields``."""
    try:
        return INITIALIZE_UPDATE.build_response(fields)
    except SpecError as exc:
        raise FormatError(str(exc)) from None


def external_authenticate(cla: int, level: int, host_cryptogram: bytes, mac: bytes) -> bytes:
    """The EXTERNAL AUTHENTICATE command (``cla`` with the secure-messaging bit)."""
    try:
        return EXTERNAL_AUTHENTICATE.build(
            security_level=level, data={"host_cryptogram": host_cryptogram, "mac": mac},
            cla=cla).encode()
    except SpecError as exc:
        raise FormatError(str(exc)) from None


def external_authenticate_fields(fields: Mapping[str, Any]) -> tuple[int, bytes, bytes]:
    """P1, host cryptogram and C-MAC of the fields the EXTERNAL AUTHENTICATE spec parsed."""
    try:
        data = fields["data"]
        return int(fields["security_level"]), bytes(data["host_cryptogram"]), bytes(data["mac"])
    except (KeyError, TypeError) as exc:
        raise FormatError(f"not the fields of an EXTERNAL AUTHENTICATE command: {exc}") from None
