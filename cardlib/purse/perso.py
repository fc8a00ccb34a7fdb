"""Personalisation of the points purse: the DGIs STORE DATA routes to it.

=========  ===============================================  =========================
DGI        content                                          rule
=========  ===============================================  =========================
0101       card identity(10, BCD) ‖ MAC try limit(1)        once
02pp       algorithm ID ‖ max balance(4) ‖ balance(4) ‖     once per purse pp; starts
           options(1)                                       its counters at 0
8p01       key index ‖ key version ‖ DLK(16)                per index; may be replaced
8p02       key index ‖ key version ‖ DPK(16)                per index; may be replaced
8p03       key version ‖ DTK(16)                            may be replaced
8010       PIN try limit ‖ PIN (BCD, F-padded)              may be replaced
=========  ===============================================  =========================

Key and PIN DGIs are sensitive: the security domain decrypts them before they get here.
A purse's state DGI is accepted once, because restarting its counters would reuse
sequence numbers the issuer has already seen.
"""

from __future__ import annotations

from typing import Any

from apdu_specs.caches import pure_cache
from apdu_specs.commands.purse_data import (
    APPLICATION_DGI,
    DGI,
    KEY_DGI,
    OPTION_PIN_FOR_PURCHASE,
    PIN_DGI,
    PURSE_DGI,
    TAC_KEY_DGI,
    KeyKind,
    Purse,
    algorithm_for_id,
    decode_identity,
    key_dgi,
    parse_layout,
    purse_dgi,
)
from apdu_specs.errors import SpecError
from apdu_specs.sw import SW, SWError
from cardlib.memory import MemoryView
from cardlib.pin import PIN

from .guard import MACGuard
from .state import PurseKey, PurseParams, PurseState

__all__ = ["personalize_purse_dgi"]


def _parse(layout: Any, data: bytes, what: str) -> dict[str, Any]:
    try:
        return parse_layout(layout, data, what)
    except SpecError as exc:
        raise SWError(exc.sw, str(exc)) from None


def _application(store: MemoryView, data: bytes) -> None:
    fields = _parse(APPLICATION_DGI, data, "DGI 0101")
    if store.get("identity") is not None:
        raise SWError(SW.CONDITIONS_NOT_SATISFIED, "the card identity is already personalised")
    try:
        decode_identity(fields["identity"])
    except SpecError as exc:
        raise SWError(SW.WRONG_DATA, str(exc)) from None
    MACGuard(store).set_limit(fields["mac_try_limit"])
    store.set("identity", fields["identity"])


def _purse(state: PurseState, data: bytes, what: str) -> None:
    fields = _parse(PURSE_DGI, data, what)
    if state.params is not None:
        raise SWError(SW.CONDITIONS_NOT_SATISFIED,
                      f"{state.purse.label} purse already personalised")
    params, balance = _purse_values(fields["algorithm_id"], fields["max_balance"],
                                    fields["balance"], fields["options"])
    state.set_params(params)
    state.balance = balance
    state.online_seq = 0
    state.offline_seq = 0


@pure_cache(maxsize=64)
def _purse_values(algorithm_id: int, max_balance: int, balance: int,
                  options: int) -> tuple[PurseParams, int]:
    """A purse state DGI's parameters and opening balance, checked.

    The same on every card of a profile: a pure function of the (int) fields, and a bad
    value raises every time (lru_cache keeps only answers).
    """
    try:
        algorithm_for_id(algorithm_id)
    except SpecError as exc:
        raise SWError(SW.WRONG_DATA, str(exc)) from None
    if balance > max_balance:
        raise SWError(SW.WRONG_DATA, "initial balance above the purse maximum")
    if options & ~OPTION_PIN_FOR_PURCHASE:
        raise SWError(SW.WRONG_DATA, f"unknown purse option bits {options:02X}")
    return PurseParams(algorithm_id, max_balance, options), balance


def _key(state: PurseState, kind: KeyKind, data: bytes, what: str) -> None:
    if kind is KeyKind.TAC:
        fields = _parse(TAC_KEY_DGI, data, what)
        state.set_tac_key(PurseKey(fields["key_version"], fields["key"]))
        return
    fields = _parse(KEY_DGI, data, what)
    if fields["key_index"] == 0:
        raise SWError(SW.WRONG_DATA, "key index 00 is reserved")
    key = PurseKey(fields["key_version"], fields["key"])
    if kind is KeyKind.LOAD:
        state.set_load_key(fields["key_index"], key)
    else:
        state.set_purchase_key(fields["key_index"], key)


def _pin(pin: PIN, data: bytes) -> None:
    fields = _parse(PIN_DGI, data, "DGI 8010")
    digits = fields["pin"].hex()
    digits = digits[:-1] if digits.endswith("f") else digits
    if not digits.isdigit() or not 4 <= len(digits) <= 12:
        raise SWError(SW.WRONG_DATA, "the PIN must be 4 to 12 BCD digits")
    pin.set(fields["pin"], fields["try_limit"])


#: each purse DGI number → its purse, the key kind for a key DGI (None: the purse's state)
#: and its name for error messages
_PURSE_ROUTES: dict[int, tuple[Purse, KeyKind | None, str]] = {
    **{purse_dgi(purse): (purse, None, f"DGI {purse_dgi(purse):04X}") for purse in Purse},
    **{key_dgi(purse, kind): (purse, kind, f"DGI {key_dgi(purse, kind):04X}")
       for purse in Purse for kind in KeyKind},
}
_APPLICATION_NUMBER = int(DGI.APPLICATION)  # plain ints: an enum member lookup costs more
_PIN_NUMBER = int(DGI.PIN)


def personalize_purse_dgi(store: MemoryView, pin: PIN, dgi: int, data: bytes) -> None:
    """Apply one DGI to the purse application's memory; 6A88 for an unknown DGI."""
    if dgi == _APPLICATION_NUMBER:
        _application(store, data)
        return
    if dgi == _PIN_NUMBER:
        _pin(pin, data)
        return
    route = _PURSE_ROUTES.get(dgi)
    if route is None:
        raise SWError(SW.REFERENCED_DATA_NOT_FOUND, f"DGI {dgi:04X} unknown to the points purse")
    purse, kind, what = route
    if kind is None:
        _purse(PurseState(store, purse), data, what)
    else:
        _key(PurseState(store, purse), kind, data, what)
