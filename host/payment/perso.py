"""The issuer's personalisation data for chip 1: DGIs per application and directory.

:func:`card_personalisation` returns, in installation order, each AID with its DGIs
(layouts in :mod:`apdu_specs.payment.dgi`): the PSE and PPSE listing the
applications, then every application with its keys (ICC master keys derived here
from the issuer master keys, option A), KCVs, PIN, limits, FCI, GPO answer and
records. A security domain's STORE DATA carries them; tests may feed them to the
applets directly.

Records (SFI 1, read by the terminal per the AFL ``08 01 02 00``):

- record 1: track 2 equivalent data (57, with the iCVV), cardholder name (5F20);
- record 2: PAN (5A), expiry (5F24), effective date (5F25), issuer country (5F28),
  PSN (5F34), usage control (9F07), CVM list (8E), CDOL1 (8C), CDOL2 (8D), issuer
  action codes (9F0D/9F0E/9F0F), application version (9F08), currency and exponent
  (9F42/9F44).
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping, Sequence

from apdu_specs.caches import pure_cache
from apdu_specs.payment import dgi as D
from apdu_specs.payment.afl import AFLEntry, encode_afl
from apdu_specs.payment.aids import PPSE_NAME, PSE_NAME
from apdu_specs.payment.bcd import encode_numeric
from apdu_specs.payment.cryptogram import version_for
from apdu_specs.payment.issuer_response import ARPCMethod
from apdu_specs.payment.pin_block import encode_pin_block
from apdu_specs.tlv import TLV, encode_dol, encode_tlvs

from .keys import CardChecks, IssuerKeys
from .profile import ApplicationProfile
from .stripe import track2_equivalent

__all__ = [
    "AFL",
    "CDOL1",
    "PDOL",
    "Personalisation",
    "application_dgis",
    "application_dgis_with",
    "card_personalisation",
    "cdol2",
    "directory_dgis",
]

Personalisation = dict[bytes, list[tuple[int, bytes]]]

PDOL = encode_dol([(0x9F1A, 2), (0x5F2A, 2)])
CDOL1 = encode_dol([(0x9F02, 6), (0x9F03, 6), (0x9F1A, 2), (0x95, 5), (0x5F2A, 2),
                    (0x9A, 3), (0x9C, 1), (0x9F37, 4)])
AFL = encode_afl([AFLEntry(1, 1, 2, 0)])
#: plaintext PIN by the ICC (else next rule), signature, no CVM — each "if supported"/always
CVM_LIST = bytes(8) + bytes.fromhex("41031E031F00")
USAGE_CONTROL = bytes.fromhex("FF00")
IAC_DEFAULT = bytes.fromhex("DC4000A800")
IAC_DENIAL = bytes.fromhex("0010000000")
IAC_ONLINE = bytes.fromhex("DC4004F800")
APPLICATION_VERSION = bytes.fromhex("0001")
LANGUAGES = b"zhen"
DIRECTORY_SFI = 1


def cdol2(method: ARPCMethod) -> bytes:
    """CDOL2: ARC, issuer authentication data (sized for the ARPC method), TVR, UN."""
    return encode_dol([(0x8A, 2), (0x91, method.data_length), (0x95, 5), (0x9F37, 4)])


@pure_cache(maxsize=256)
def _date(yymm: str, last_day: bool) -> bytes:
    """YYMMDD in BCD (a pure function of a month: the cards of a batch share a few)."""
    year, month = 2000 + int(yymm[:2]), int(yymm[2:])
    day = calendar.monthrange(year, month)[1] if last_day else 1
    return bytes.fromhex(f"{yymm}{day:02d}")


def _pan(pan: str) -> bytes:
    return bytes.fromhex(pan + "F" * (len(pan) % 2))


def _record(objects: bytes) -> bytes:
    """A record template (70) around objects already encoded."""
    return TLV(0x70, objects).encode()


# What every card of one product shares is encoded once: the functions below are pure
# functions of a few profile settings (ints, strings, an enum), cached on them.

@pure_cache(maxsize=64)
def _crypto_parameters(cvn: int, dki: int, arpc_method: ARPCMethod, initial_atc: int) -> bytes:
    return D.CryptoParameters(cvn, dki, arpc_method, initial_atc).encode()


@pure_cache(maxsize=64)
def _risk_parameters(offline_limit: int, currency: int, lower_consecutive_offline: int,
                     upper_consecutive_offline: int, credit_limit: int | None) -> bytes:
    return D.RiskParameters(offline_limit, currency, lower_consecutive_offline,
                            upper_consecutive_offline, credit_limit).encode()


@pure_cache(maxsize=64)
def _fci_proprietary(label: str, priority: int) -> bytes:
    return encode_tlvs([TLV(0x50, label.encode("ascii")), TLV(0x87, bytes([priority])),
                        TLV(0x9F38, PDOL), TLV(0x5F2D, LANGUAGES)])


@pure_cache(maxsize=64)
def _record_2_tail(country: int, psn: str, arpc_method: ARPCMethod, currency: int,
                   currency_exponent: int, template: tuple[tuple[int, bytes], ...]) -> bytes:
    """Record 2 after the card's own dates: the product's objects, then the template's
    (a template object replaces the product's object of the same tag)."""
    replaced = dict(template)
    objs = [
        TLV(0x5F28, encode_numeric(country, 2)),
        TLV(0x5F34, bytes.fromhex(psn)),
        TLV(0x9F07, USAGE_CONTROL), TLV(0x8E, CVM_LIST),
        TLV(0x8C, CDOL1), TLV(0x8D, cdol2(arpc_method)),
        TLV(0x9F0D, IAC_DEFAULT), TLV(0x9F0E, IAC_DENIAL), TLV(0x9F0F, IAC_ONLINE),
        TLV(0x9F08, APPLICATION_VERSION),
        TLV(0x9F42, encode_numeric(currency, 2)),
        TLV(0x9F44, bytes([currency_exponent])),
    ]
    kept = [o for o in objs if o.tag not in replaced]
    return encode_tlvs([*kept, *(TLV(tag, value) for tag, value in template)])


def _records(profile: ApplicationProfile, keys: CardChecks,
             template: tuple[tuple[int, bytes], ...]) -> list[bytes]:
    first = (TLV(0x57, track2_equivalent(profile, keys)).encode()
             + TLV(0x5F20, profile.cardholder_name.encode("ascii")).encode())
    dates = [TLV(0x5A, _pan(profile.pan)), TLV(0x5F24, _date(profile.expiry, True))]
    if profile.effective is not None:
        dates.append(TLV(0x5F25, _date(profile.effective, False)))
    if template:
        replaced = dict(template)
        dates = [o for o in dates if o.tag not in replaced]
    tail = _record_2_tail(profile.country, profile.psn, profile.arpc_method, profile.currency,
                          profile.currency_exponent, template)
    return [_record(first), _record(encode_tlvs(dates) + tail)]


def application_dgis(profile: ApplicationProfile, keys: IssuerKeys, *,
                     record_template: Mapping[int, bytes] | None = None
                     ) -> list[tuple[int, bytes]]:
    """Every DGI of one application, in the order the card requires.

    ``record_template``: data objects (tag → value) added to record 2 of SFI 1, after its
    own objects; one with the tag of an object of the record replaces it.
    """
    version = version_for(profile.cvn)
    card_keys = version.icc_master_keys(keys.emv, profile.pan, profile.psn)
    return application_dgis_with(profile, keys, D.encode_master_keys(card_keys),
                                 D.encode_kcvs(card_keys, version),
                                 record_template=record_template)


def application_dgis_with(profile: ApplicationProfile, checks: CardChecks, master_keys: bytes,
                          kcvs: bytes, *, record_template: Mapping[int, bytes] | None = None
                          ) -> list[tuple[int, bytes]]:
    """:func:`application_dgis` with the card's master keys (DGI 8000) and their KCVs
    (DGI 9000) made elsewhere: a token makes them inside itself (:mod:`host.perso.token_keys`)
    and DGI 8000 is then a placeholder of the same length."""
    out = [(D.CRYPTO_PARAMETERS, _crypto_parameters(profile.cvn, profile.dki,
                                                    profile.arpc_method, profile.initial_atc)),
           (D.RISK_PARAMETERS, _risk_parameters(profile.offline_limit, profile.currency,
                                                profile.lower_consecutive_offline,
                                                profile.upper_consecutive_offline,
                                                profile.credit_limit)),
           (D.MASTER_KEYS, master_keys),
           (D.KEY_CHECK_VALUES, kcvs)]
    if profile.pin is not None:
        out += [(D.PIN_TRY_LIMIT, bytes([profile.pin_try_limit])),
                (D.PIN, encode_pin_block(profile.pin))]
    out += [(D.FCI_PROPRIETARY, _fci_proprietary(profile.application_label, profile.priority)),
            (D.GPO_RESPONSE, profile.aip + AFL)]
    template = tuple(record_template.items()) if record_template else ()
    out += [(D.record_dgi(1, n), rec)
            for n, rec in enumerate(_records(profile, checks, template), 1)]
    return out


def _directory_entry(profile: ApplicationProfile) -> TLV:
    return TLV.build(0x61, [TLV(0x4F, profile.application_aid),
                            TLV(0x50, profile.application_label.encode("ascii")),
                            TLV(0x87, bytes([profile.priority]))])


def directory_dgis(profiles: Sequence[ApplicationProfile]) -> Personalisation:
    """PSE (directory file on SFI 1, one record listing every application) and PPSE."""
    entries = [_directory_entry(p) for p in profiles]
    pse_fci = encode_tlvs([TLV(0x88, bytes([DIRECTORY_SFI])), TLV(0x5F2D, LANGUAGES)])
    ppse_fci = TLV.build(0xBF0C, entries).encode()
    record = TLV.build(0x70, entries).encode()
    return {PSE_NAME: [(D.FCI_PROPRIETARY, pse_fci), (D.record_dgi(DIRECTORY_SFI, 1), record)],
            PPSE_NAME: [(D.FCI_PROPRIETARY, ppse_fci)]}


def card_personalisation(profiles: Sequence[ApplicationProfile], keys: IssuerKeys) -> Personalisation:
    """Directories first, then each application (installation order)."""
    out = directory_dgis(profiles)
    for profile in profiles:
        out[profile.application_aid] = application_dgis(profile, keys)
    return out
