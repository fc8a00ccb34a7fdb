"""Names of every BER-TLV tag dualcard reads or writes.

Sources: EMV Book 3 Annex A (payment tags, domain-facts §4.4), GlobalPlatform
Card Specification 2.3 §11 (registry and SD tags), ISO/IEC 7816-4 (FCI), and
the dualcard-proprietary ``DFxx``/``BFxx`` tags defined in ``docs/decisions.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["TAGS", "TagInfo", "tag_name"]


@dataclass(frozen=True)
class TagInfo:
    name: str
    fmt: str = "b"  # b binary, n numeric BCD, cn compressed numeric, an/ans text, tpl template
    source: str = "EMV"


def _t(name: str, fmt: str = "b", source: str = "EMV") -> TagInfo:
    return TagInfo(name, fmt, source)


TAGS: dict[int, TagInfo] = {
    # ISO 7816-4 / EMV FCI
    0x4F: _t("Application identifier (ADF name)"),
    0x50: _t("Application label", "ans"),
    0x57: _t("Track 2 equivalent data"),
    0x5A: _t("Application PAN", "cn"),
    0x5F20: _t("Cardholder name", "ans"),
    0x5F24: _t("Application expiration date", "n"),
    0x5F25: _t("Application effective date", "n"),
    0x5F28: _t("Issuer country code", "n"),
    0x5F2A: _t("Transaction currency code", "n"),
    0x5F2D: _t("Language preference", "an"),
    0x5F30: _t("Service code", "n"),
    0x5F34: _t("PAN sequence number", "n"),
    0x61: _t("Application template", "tpl"),
    0x6F: _t("FCI template", "tpl"),
    0x70: _t("Record template", "tpl"),
    0x71: _t("Issuer script template 1", "tpl"),
    0x72: _t("Issuer script template 2", "tpl"),
    0x77: _t("Response message template format 2", "tpl"),
    0x80: _t("Response message template format 1"),
    0x82: _t("Application interchange profile"),
    0x83: _t("Command template"),
    0x84: _t("DF name"),
    0x86: _t("Issuer script command"),
    0x87: _t("Application priority indicator"),
    0x88: _t("Short file identifier"),
    0x8A: _t("Authorisation response code", "an"),
    0x8C: _t("CDOL1"),
    0x8D: _t("CDOL2"),
    0x8E: _t("CVM list"),
    0x8F: _t("CA public key index"),
    0x91: _t("Issuer authentication data"),
    0x94: _t("Application file locator"),
    0x95: _t("Terminal verification results"),
    0x9A: _t("Transaction date", "n"),
    0x9C: _t("Transaction type", "n"),
    0x9F02: _t("Amount, authorised", "n"),
    0x9F03: _t("Amount, other", "n"),
    0x9F07: _t("Application usage control"),
    0x9F08: _t("Application version number"),
    0x9F0D: _t("Issuer action code - default"),
    0x9F0E: _t("Issuer action code - denial"),
    0x9F0F: _t("Issuer action code - online"),
    0x9F10: _t("Issuer application data"),
    0x9F11: _t("Issuer code table index", "n"),
    0x9F12: _t("Application preferred name", "ans"),
    0x9F13: _t("Last online ATC register"),
    0x9F14: _t("Lower consecutive offline limit"),
    0x9F17: _t("PIN try counter"),
    0x9F1A: _t("Terminal country code", "n"),
    0x9F1F: _t("Track 1 discretionary data", "ans"),
    0x9F23: _t("Upper consecutive offline limit"),
    0x9F26: _t("Application cryptogram"),
    0x9F27: _t("Cryptogram information data"),
    0x9F32: _t("Issuer public key exponent"),
    0x9F33: _t("Terminal capabilities"),
    0x9F34: _t("CVM results"),
    0x9F35: _t("Terminal type", "n"),
    0x9F36: _t("Application transaction counter"),
    0x9F37: _t("Unpredictable number"),
    0x9F38: _t("PDOL"),
    0x9F42: _t("Application currency code", "n"),
    0x9F44: _t("Application currency exponent", "n"),
    0x9F4D: _t("Log entry"),
    0x9F4F: _t("Log format"),
    0x9F51: _t("Application currency code (proprietary)", "n"),
    0x9F52: _t("Application default action"),
    0x9F53: _t("Consecutive transaction limit (international)"),
    0x9F54: _t("Cumulative total transaction amount limit", "n"),
    0x9F58: _t("Lower consecutive offline limit"),
    0x9F59: _t("Upper consecutive offline limit"),
    0x9F5C: _t("Cumulative total transaction amount upper limit", "n"),
    0x9F6D: _t("EC reset threshold", "n"),
    0x9F77: _t("EC balance limit", "n"),
    0x9F78: _t("EC single transaction limit", "n"),
    0x9F79: _t("EC balance", "n"),
    0xA5: _t("FCI proprietary template", "tpl"),
    0xBF0C: _t("FCI issuer discretionary data", "tpl"),
    # GlobalPlatform
    0x42: _t("Issuer identification number", source="GP"),
    0x45: _t("Card image number", source="GP"),
    0x66: _t("Card data", "tpl", "GP"),
    0x73: _t("Card recognition data", "tpl", "GP"),
    0x9F6E: _t("Application production life cycle data", source="GP"),
    0x9F7F: _t("Card production life cycle data (CPLC)", source="GP"),
    0x9F70: _t("Life cycle state", source="GP"),
    0xC5: _t("Privileges", source="GP"),
    0xC4: _t("Executable load file AID", source="GP"),
    0xC6: _t("Load file version", source="GP"),
    0xC9: _t("Application specific parameters", source="GP"),
    0xCC: _t("Associated security domain AID", source="GP"),
    0xCE: _t("Executable load file version", source="GP"),
    0xCF: _t("Implicit selection parameter", source="GP"),
    0x06: _t("Object identifier", source="GP"),
    0x60: _t("GP card management type and version", "tpl", "GP"),
    0x63: _t("GP card identification scheme", "tpl", "GP"),
    0x64: _t("GP secure channel protocol and options", "tpl", "GP"),
    0x9F65: _t("Maximum length of command data", source="GP"),
    0xE0: _t("Key information template", "tpl", "GP"),
    0xC0: _t("Key information data", source="GP"),
    0xE3: _t("GP registry entry", "tpl", "GP"),
    0xEA: _t("Install parameters (system)", "tpl", "GP"),
    0xEF: _t("System specific parameters", "tpl", "GP"),
    # dualcard proprietary
    0xDF01: _t("dualcard: card identity", source="dualcard"),
    0xDF02: _t("dualcard: chip role", source="dualcard"),
    0xDF10: _t("dualcard: offline limit (minor units)", source="dualcard"),
    0xDF11: _t("dualcard: credit limit (minor units)", source="dualcard"),
    0xDF20: _t("dualcard: purse balance", source="dualcard"),
}


def tag_name(tag: int) -> str:
    info = TAGS.get(tag)
    return info.name if info else f"unknown tag {tag:X}"
