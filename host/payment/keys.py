"""The issuer's keys for chip 1: EMV issuer master keys, and the stripe's CVK and PVK.

Reprs and errors show key check values, never keys. :func:`load_issuer_keys` reads
the JSON key file the CLI takes (a demo and test convenience: production keys live
in an HSM or a key store, not in files). :class:`PaymentKeys` is what an issuer's host
needs of them, whether the values are here (:class:`IssuerKeys`) or in a token
(:class:`host.hsm.issuer.ProviderPaymentKeys`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from apdu_specs.crypto.ciphers import Algorithm
from apdu_specs.crypto.cvv import cvv, pvv
from apdu_specs.crypto.kcv import kcv
from apdu_specs.errors import HexError
from apdu_specs.hexutil import parse_hex, to_hex
from apdu_specs.payment.cryptogram import IssuerMasterKeys

from ..files import read_json
from .errors import PaymentProfileError

if TYPE_CHECKING:
    from .issuer import Issuer

__all__ = ["CardChecks", "IssuerKeys", "PaymentKeys", "load_issuer_keys"]


class PaymentKeys(Protocol):
    """What an issuer's host does with its chip-1 keys, wherever they are kept."""

    def issuer(self, **options: Any) -> Issuer:
        """The online issuer (ARQC, ARPC, scripts) with these keys; ``options`` as
        :class:`~host.payment.issuer.Issuer` takes them."""
        ...

    def pvv(self, pan: str, pvki: str, pin: str) -> str:
        """The PIN verification value of ``pin`` under the PVK."""
        ...

    def stripe_refusal(self, track2: str) -> str | None:
        """Why a swiped track 2 is refused before the issuer's policy (None: its CVV
        verifies under the CVK)."""
        ...


class CardChecks(Protocol):
    """What computes a card's check values: the CVV under the CVK, the PVV under the PVK
    (the key file's :class:`IssuerKeys`, or a key provider, :mod:`host.hsm.card_checks`)."""

    def cvv(self, pan: str, expiry: str, service_code: str) -> str:
        """The 3-digit CVV (iCVV with service code 999)."""
        ...

    def pvv(self, pan: str, pvki: str, pin: str) -> str:
        """The 4-digit PVV of a 4-digit PIN."""
        ...


@dataclass(frozen=True)
class IssuerKeys:
    emv: IssuerMasterKeys
    cvk: bytes  #: CVK-A ‖ CVK-B (2-key 3DES)
    pvk: bytes  #: PVK (2-key 3DES)

    def __post_init__(self) -> None:
        for name, key in (("CVK", self.cvk), ("PVK", self.pvk)):
            if len(key) != 16:
                raise PaymentProfileError(f"the {name} is a 16-byte 3DES key, got {len(key)} bytes")

    def cvv(self, pan: str, expiry: str, service_code: str) -> str:
        return cvv(self.cvk, pan, expiry, service_code)

    def pvv(self, pan: str, pvki: str, pin: str) -> str:
        return pvv(self.pvk, pan, pvki, pin)

    def __repr__(self) -> str:
        return (f"IssuerKeys(CVK kcv {to_hex(kcv(Algorithm.TDES, self.cvk))}, "
                f"PVK kcv {to_hex(kcv(Algorithm.TDES, self.pvk))})")

    def issuer(self, **options: Any) -> Issuer:
        from .issuer import Issuer

        return Issuer(self.emv, **options)

    def stripe_refusal(self, track2: str) -> str | None:
        from .stripe import stripe_refusal

        return stripe_refusal(track2, self)


def load_issuer_keys(path: str | Path) -> IssuerKeys:
    """Keys from ``{"imk_ac": hex, "imk_smi": hex, "imk_smc": hex, "cvk": hex, "pvk": hex}``."""
    raw = read_json(path, expect=dict)
    try:
        fields = {name: parse_hex(str(raw[name]), what=name)
                  for name in ("imk_ac", "imk_smi", "imk_smc", "cvk", "pvk")}
    except KeyError as exc:
        raise PaymentProfileError(f"issuer key file {path} lacks {exc.args[0]!r}") from None
    except HexError as exc:
        raise PaymentProfileError(f"issuer key file {path}: {exc}") from None
    return IssuerKeys(IssuerMasterKeys(fields["imk_ac"], fields["imk_smi"], fields["imk_smc"]),
                      fields["cvk"], fields["pvk"])
