"""Read a personalised card back and compare it with its plan; any difference is a mismatch.

Per chip, in a secure channel: the ISD says SECURED and lists every planned application
PERSONALIZED, and the card proves it holds the *issuer's* per-card key set (so PUT KEY
took). Right after a run the channel the run opened is still there: the listing is read
in it, and when it was opened with the factory keys that PUT KEY replaced, INITIALIZE
UPDATE with the issuer's key version proves the new key set by the card's cryptogram
alone (no session, nothing counted; the values of all three keys were already checked
by their KCVs, by the card, in PUT KEY). Otherwise a channel is opened with the issuer's
keys. Per application, outside the channel: SELECT answers the FCI that was stored, every
record reads back byte for byte (chip 1), the purse names this card and its purses with
their opening balances (chip 2). Secrets are never read back — a card cannot be asked for
its keys or PIN; the KCVs the card itself checked at STORE DATA and PUT KEY stand for them.
"""

from __future__ import annotations

from collections.abc import Mapping

from apdu_specs.apdu import ResponseAPDU
from apdu_specs.caches import pure_cache
from apdu_specs.commands.iso7816 import READ_RECORD, SELECT
from apdu_specs.commands.purse_data import Purse
from apdu_specs.errors import TLVError
from apdu_specs.payment import dgi as payment_dgi
from apdu_specs.sw import SW
from apdu_specs.tlv import find, parse_tlvs
from host.gp import AuthenticationError as GPAuthenticationError
from host.gp import ChannelOptions, GPClient, Subset, UnknownKeySetError
from host.points.client import PointsClient
from host.transport.base import Transport

from .card_keys import CardKeys
from .chip_run import CHIP_LEVEL, PERSONALIZED
from .errors import VerificationMismatch
from .plan import AppPlan, CardPlan
from .profile import AppKind

__all__ = ["verify_card"]

_SECURED = 0x0F
#: DGIs whose number looks like SFI ‖ record but which carry parameters
_NOT_RECORDS = frozenset({payment_dgi.RISK_PARAMETERS, payment_dgi.CRYPTO_PARAMETERS})


def verify_card(transports: Mapping[int, Transport], plan: CardPlan, keys: CardKeys, *,
                sessions: Mapping[int, GPClient] | None = None) -> None:
    """Raise :class:`VerificationMismatch` naming the first difference found.

    ``sessions``: per chip, the GP client whose secure channel with the ISD is still open
    on the basic channel (as :func:`.chip_run.open_chip` and
    :func:`.chip_run.personalise_chip` leave it); the ISD is then read in that channel.
    """
    for chip in keys.profile.chips:
        transport = transports[chip]
        session = (sessions or {}).get(chip)
        _verify_isd(transport, chip, plan, keys,
                    session if session is not None and session.channel is not None else None)
        for app in plan.chip_apps(chip):
            if app.spec.kind is AppKind.PURSE:
                _verify_purse(transport, app, plan, keys)
            else:
                _verify_records(transport, app)


def _mismatch(app_or_chip: str, message: str) -> VerificationMismatch:
    return VerificationMismatch(f"read-back of {app_or_chip}: {message}")


def _verify_isd(transport: Transport, chip: int, plan: CardPlan, keys: CardKeys,
                session: GPClient | None) -> None:
    issuer = ChannelOptions(level=CHIP_LEVEL, kvn=keys.profile.isd_key_version,
                            algorithm=keys.profile.suite.algorithm)
    client = session
    if client is None:
        client = GPClient(transport)
        client.select()
        client.open_secure_channel(keys.isd_spec, issuer)
    isd = client.get_status(Subset.ISD)
    if not isd or isd[0].state != _SECURED:
        state = f"{isd[0].state:02X}" if isd else "missing"
        raise _mismatch(f"chip {chip}", f"card life cycle is {state}, not SECURED (0F)")
    states = {e.aid: e.state for e in client.get_status(Subset.APPLICATIONS)}
    apps = plan.chip_apps(chip)
    for app in apps:
        if states.get(app.spec.aid) != PERSONALIZED:
            raise _mismatch(app.spec.label, "application is not PERSONALIZED")
    assert client.channel is not None
    if client.channel.kvn != issuer.kvn:  # opened with the keys PUT KEY replaced
        try:
            keys.prove_issuer_keys(client, issuer)  # also ends the session
        except (GPAuthenticationError, UnknownKeySetError) as exc:
            raise _mismatch(f"chip {chip}", f"the issuer's key set: {exc}") from None
    elif not apps:
        client.select()  # close the channel (an application's SELECT closes it otherwise)


def _send(transport: Transport, apdu: bytes, what: str) -> ResponseAPDU:
    response = ResponseAPDU.parse(transport.transmit(apdu))
    if response.sw != SW.OK:
        raise _mismatch(what, f"card answered {response.sw:04X}")
    return response


@pure_cache(maxsize=64, typed=True)
def _select(aid: bytes) -> bytes:
    """SELECT by AID (the same few commands for every card of a run)."""
    return SELECT.build(selection=0x04, occurrence=0x00, data={"name": aid}, ne=256).encode()


@pure_cache(maxsize=256, typed=True)
def _read_record(number: int, sfi: int) -> bytes:
    return READ_RECORD.build(record=number, reference=(sfi << 3) | 0x04, ne=256).encode()


def _verify_records(transport: Transport, app: AppPlan) -> None:
    spec = app.spec
    fci = _send(transport, _select(spec.aid), spec.label).data
    stored = {d.dgi: d.value for d in app.dgis}
    expected_fci = stored.get(payment_dgi.FCI_PROPRIETARY)
    try:
        template = parse_tlvs(fci)
        proprietary = find(template[0].children, 0xA5) if template else None
    except TLVError:
        raise _mismatch(spec.label, "SELECT does not answer an FCI") from None
    if expected_fci is not None and (proprietary is None or proprietary.value != expected_fci):
        raise _mismatch(spec.label, "FCI differs from the one personalised")
    for dgi, value in stored.items():
        where = payment_dgi.record_of_dgi(dgi)
        if where is None or dgi in _NOT_RECORDS:
            continue
        sfi, number = where
        if _send(transport, _read_record(number, sfi), spec.label).data != value:
            raise _mismatch(spec.label, f"record {number} of SFI {sfi} differs")


def _verify_purse(transport: Transport, app: AppPlan, plan: CardPlan, keys: CardKeys) -> None:
    client = PointsClient(transport, app.spec.aid)
    application = client.select()
    label = app.spec.label
    if application.identity != plan.card.card_id:
        raise _mismatch(label, f"card identity {application.identity}, "
                               f"expected {plan.card.card_id}")
    points = keys.profile.points
    if set(application.purses) != set(Purse):
        raise _mismatch(label, "not every purse is personalised")
    for purse in Purse:
        balance = client.balance(purse)
        if balance != points.initial[purse]:
            raise _mismatch(label, f"{purse.label} balance {balance}, expected "
                            f"{points.initial[purse]}")
