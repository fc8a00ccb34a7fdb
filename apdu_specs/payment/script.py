"""Issuer scripts: commands protected with a MAC, carried in templates 71 / 72.

The issuer builds each command (EMV Book 3 §10.10, Book 2 §9.2): the header as it
will be transmitted (``Lc`` counts the 8-byte MAC), the MAC over
``header ‖ ATC ‖ ARQC ‖ data``, then ``data ‖ MAC`` as the command data. The
terminal forwards template 71 commands before the second GENERATE AC and template
72 commands after it, each as tag 86. Script identifiers (9F18) are optional.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Self

from ..apdu import CommandAPDU
from ..commands.spec import CommandSpec
from ..tlv import TLV, parse_tlvs
from .cryptogram import SCRIPT_MAC_LENGTH, CryptogramVersion
from .errors import PaymentFormatError

__all__ = [
    "AFTER_SECOND_AC",
    "BEFORE_SECOND_AC",
    "IssuerScript",
    "ScriptKeying",
    "ScriptSession",
    "decode_scripts",
    "encode_scripts",
    "split_script_command",
]

BEFORE_SECOND_AC = 0x71
AFTER_SECOND_AC = 0x72
TAG_COMMAND = 0x86
TAG_SCRIPT_ID = 0x9F18


class ScriptKeying(ABC):
    """What keys a script's commands: the ARQC's version, ATC and ARQC, a MAC under SK-SMI
    and encipherment under SK-SMC — wherever those session keys are (in this process, or
    in an HSM that never lets them out). Closed when the response is built."""

    version: CryptogramVersion
    atc: int
    arqc: bytes

    @abstractmethod
    def mac(self, header: bytes, data: bytes) -> bytes:
        """The script MAC of a command whose header (with Lc) and data are given."""

    @abstractmethod
    def encipher(self, plaintext: bytes) -> bytes:
        """Confidential command data under SK-SMC."""

    def command(self, spec: CommandSpec, fields: Mapping[str, Any], data: bytes = b"") -> bytes:
        """The protected command: ``spec`` with P1/P2 from ``fields`` and ``data ‖ MAC``."""
        if spec.data is None:
            raise PaymentFormatError(f"{spec.name} carries no data to hold a MAC")
        field_name = spec.data.subcons[-1].name
        placeholder = bytes(data) + bytes(SCRIPT_MAC_LENGTH)
        apdu = spec.build({**fields, "data": {field_name: placeholder}, "ne": None})
        if apdu.is_extended:
            raise PaymentFormatError("issuer script commands are short APDUs")
        header = apdu.header + bytes([len(placeholder)])
        return apdu.replace(data=bytes(data) + self.mac(header, bytes(data))).encode()

    def close(self) -> None:  # noqa: B027 (keys in this process have nothing to release)
        """Forget the session keys (an HSM destroys them)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class ScriptSession(ScriptKeying):
    """The session keys in this process: SK-SMI/SK-SMC of this ARQC, ATC and ARQC."""

    version: CryptogramVersion
    sk_smi: bytes
    sk_smc: bytes
    atc: int
    arqc: bytes

    def __repr__(self) -> str:
        return f"ScriptSession(CVN {self.version.cvn:02X}, ATC {self.atc:04X})"

    def mac(self, header: bytes, data: bytes) -> bytes:
        return self.version.script_mac(self.sk_smi, header, self.atc, self.arqc, data)

    def encipher(self, plaintext: bytes) -> bytes:
        return self.version.encipher(self.sk_smc, plaintext)


def split_script_command(apdu: CommandAPDU) -> tuple[bytes, bytes, bytes]:
    """Card side: ``(header with Lc, data, MAC)`` of a received script command."""
    if apdu.is_extended or len(apdu.data) < SCRIPT_MAC_LENGTH:
        raise PaymentFormatError("a script command is a short APDU ending in an 8-byte MAC")
    header = apdu.header + bytes([len(apdu.data)])
    return header, apdu.data[:-SCRIPT_MAC_LENGTH], apdu.data[-SCRIPT_MAC_LENGTH:]


@dataclass(frozen=True)
class IssuerScript:
    """One script: its commands, whether they run before or after the second GENERATE AC."""

    commands: tuple[bytes, ...]
    template: int = BEFORE_SECOND_AC
    identifier: bytes = b""

    def __post_init__(self) -> None:
        if self.template not in (BEFORE_SECOND_AC, AFTER_SECOND_AC):
            raise PaymentFormatError(f"script template {self.template:02X} is not 71 or 72")
        if self.identifier and len(self.identifier) != 4:
            raise PaymentFormatError("a script identifier (9F18) has 4 bytes")

    def encode(self) -> bytes:
        kids = ([TLV(TAG_SCRIPT_ID, self.identifier)] if self.identifier else [])
        kids += [TLV(TAG_COMMAND, c) for c in self.commands]
        return TLV.build(self.template, kids).encode()


def decode_scripts(data: bytes) -> list[IssuerScript]:
    """The scripts in an issuer response (a sequence of 71 / 72 templates)."""
    out = []
    for obj in parse_tlvs(data):
        if obj.tag not in (BEFORE_SECOND_AC, AFTER_SECOND_AC):
            raise PaymentFormatError(f"tag {obj.tag:X} is not an issuer script template")
        ident = next((c.value for c in obj.children if c.tag == TAG_SCRIPT_ID), b"")
        commands = tuple(c.value for c in obj.children if c.tag == TAG_COMMAND)
        out.append(IssuerScript(commands, obj.tag, ident))
    return out


def encode_scripts(scripts: Sequence[IssuerScript]) -> bytes:
    return b"".join(s.encode() for s in scripts)
