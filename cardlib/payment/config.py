"""The personalised configuration of a payment application, decoded for one command."""

from __future__ import annotations

from dataclasses import dataclass

from apdu_specs.payment import dgi as D
from apdu_specs.payment.cryptogram import CryptogramVersion, IssuerMasterKeys
from apdu_specs.sw import SW, SWError
from apdu_specs.tlv import parse_dol
from cardlib.memory import MemoryView

from .perso import REQUIRED_KEYS, missing_data

__all__ = ["AppConfig", "Dol", "dol_length", "risk_parameters"]

Dol = list[tuple[int, int]]


def dol_length(dol: Dol) -> int:
    return sum(n for _, n in dol)


def risk_parameters(store: MemoryView) -> D.RiskParameters | None:
    raw = store.get("risk")
    return None if raw is None else D.RiskParameters.decode(raw)


@dataclass(frozen=True)
class AppConfig:
    crypto: D.CryptoParameters
    risk: D.RiskParameters
    keys: IssuerMasterKeys
    aip: bytes
    afl: bytes
    pdol: Dol
    cdol1: Dol
    cdol2: Dol

    @property
    def version(self) -> CryptogramVersion:
        return self.crypto.version

    @classmethod
    def load(cls, store: MemoryView) -> AppConfig:
        """The configuration, or 6985 while personalisation is incomplete."""
        values = dict(zip(REQUIRED_KEYS, map(store.get, REQUIRED_KEYS), strict=True))
        if None in values.values():
            raise SWError(SW.CONDITIONS_NOT_SATISFIED,
                          "not personalised: " + ", ".join(missing_data(store)))
        stored = (values["crypto"], values["risk"], values["keys"], values["gpo"],
                  store.get("pdol", b""), values["cdol1"], values["cdol2"])
        return store.decoded("config", stored, _decode)


def _decode(stored: tuple[bytes, ...]) -> AppConfig:
    """Decoded once per distinct stored configuration, kept by the chip that holds it (the
    configuration holds the card's keys): every command needs it, and the stored bytes
    (immutable) are compared on each use, so a change on the card is never missed."""
    crypto_raw, risk, keys, gpo, pdol, cdol1, cdol2 = stored
    crypto = D.CryptoParameters.decode(crypto_raw)
    return AppConfig(crypto, D.RiskParameters.decode(risk),
                     D.decode_master_keys(keys, crypto.version), gpo[:2], gpo[2:],
                     parse_dol(pdol), parse_dol(cdol1), parse_dol(cdol2))
