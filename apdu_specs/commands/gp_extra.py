"""GlobalPlatform data formats shared by the security domain and the host, and two more specs.

Both ends of a GP exchange must agree on these byte layouts, so they live here once
(architecture §1): the card builds them, the host parses them (or the other way round).

- DGI framing of STORE DATA (EMV CPS; domain-facts §3.2): 2-byte DGI, then a length of
  1 byte (0–254) or ``FF hi lo``.
- Sensitive data under the DEK. SCP03 (GPC 2.3 Amendment D §6.2.8 leaves padding to the
  application): ``AES-CBC(static DEK, IV 0)`` (SM4-CBC in the SM4 suite) over the value
  padded with ISO/IEC 9797-1 method 2 — always padded, so the card strips it without
  guessing. SCP02: ``3DES-ECB(session DEK)`` over the same padding.
- PUT KEY key components (GPC 2.3 §11.8.2.3; domain-facts §2.6): AES ``88 | L | keylen |
  AES-CBC(DEK, IV 0)(key || zeros to a block) | 03 | KCV``; 3DES ``80 | 10 |
  3DES-ECB(DEK, key) | 03 | KCV``. SM4 keys use type ``70`` from the range GP leaves to
  private use — no public GP code for SM4 exists (a dualcard choice).
- CPLC (tag 9F7F, 42 bytes; GPC 2.3 Annex H), card recognition data (tag 66; GPC 2.3
  §H.2), key information template (tag E0; GPC 2.3 §11.3.3.1), GET STATUS registry
  entries (tag E3; GPC 2.3 Table 11-36) and their legacy form.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from construct import Const, Int8ub, Struct

from ..caches import pure_cache
from ..crypto.ciphers import (
    Algorithm,
    CipherKey,
    cbc_decrypt,
    cbc_encrypt,
    ecb_decrypt,
    ecb_encrypt,
)
from ..crypto.errors import CryptoError
from ..crypto.kcv import kcv
from ..crypto.padding import pad_method2, unpad_method2
from ..errors import SpecError, TLVError
from ..tlv import TLV, encode_length, parse_tlvs
from .layouts import RAW
from .registry import register
from .spec import CommandSpec, Example, Param

__all__ = [
    "CARD_STATE_NAMES",
    "CPLC_FIELDS",
    "DEFAULT_ISD_AID",
    "DELETE_KEY",
    "GET_DATA_INTERINDUSTRY",
    "GP_TEST_KEY",
    "KEY_TYPES",
    "CardRecognition",
    "KeyInfo",
    "RegistryEntry",
    "app_state_name",
    "build_card_recognition",
    "build_cplc",
    "card_state_name",
    "decode_key_component",
    "decrypt_sensitive",
    "encode_dgi",
    "encode_key_component",
    "encode_key_information",
    "encrypt_sensitive",
    "parse_card_recognition",
    "parse_cplc",
    "parse_key_information",
    "parse_registry",
    "split_dgis",
]

APP = "gp"

#: the AID GlobalPlatform cards commonly give their issuer security domain
DEFAULT_ISD_AID = bytes.fromhex("A000000151000000")
#: GlobalPlatform's published test key (40 41 … 4F), GPPro's ``default``
GP_TEST_KEY = bytes(range(0x40, 0x50))

#: card life cycle states (GPC 2.3 §5.1.1; domain-facts §3.1)
CARD_STATE_NAMES: dict[int, str] = {0x01: "OP_READY", 0x07: "INITIALIZED", 0x0F: "SECURED",
                                    0x7F: "CARD_LOCKED", 0xFF: "TERMINATED"}


def card_state_name(state: int) -> str:
    return CARD_STATE_NAMES.get(state, f"{state:02X}")


def app_state_name(state: int) -> str:
    """Application / SD life cycle state (GPC 2.3 §5.3): LOCKED is b8 with b1–b2 set."""
    if state & 0x83 == 0x83:
        return "LOCKED"
    return {0x01: "LOADED", 0x03: "INSTALLED", 0x07: "SELECTABLE", 0x0F: "PERSONALIZED"}.get(
        state, f"APP_SPECIFIC_{state:02X}")

# --- DGI framing ----------------------------------------------------------------------


def encode_dgi(dgi: int, value: bytes) -> bytes:
    """One DGI: identifier(2) ‖ length (1 byte up to 254, else ``FF hi lo``) ‖ value."""
    if not 0 <= dgi <= 0xFFFF:
        raise SpecError(f"DGI {dgi:#x} does not fit 2 bytes")
    if len(value) > 0xFFFF:
        raise SpecError(f"DGI {dgi:04X} value of {len(value)} bytes is too long")
    length = bytes([len(value)]) if len(value) < 0xFF else b"\xff" + len(value).to_bytes(2, "big")
    return dgi.to_bytes(2, "big") + length + bytes(value)


def split_dgis(buffer: bytes) -> tuple[list[tuple[int, bytes]], bytes]:
    """Complete DGIs at the front of ``buffer``, and the incomplete rest (for the next block)."""
    out: list[tuple[int, bytes]] = []
    pos, n = 0, len(buffer)
    while True:
        left = n - pos
        if left < 3:
            return out, buffer[pos:]
        dgi = (buffer[pos] << 8) | buffer[pos + 1]
        if buffer[pos + 2] == 0xFF:
            if left < 5:
                return out, buffer[pos:]
            length, header = (buffer[pos + 3] << 8) | buffer[pos + 4], 5
        else:
            length, header = buffer[pos + 2], 3
        if left < header + length:
            return out, buffer[pos:]
        start = pos + header
        out.append((dgi, bytes(buffer[start:start + length])))
        pos = start + length


# --- sensitive data and key components under the DEK -------------------------------------


def _require_block_cipher(algorithm: Algorithm) -> None:
    if algorithm is Algorithm.DES:
        raise SpecError("single DES is not a GlobalPlatform DEK algorithm")


def encrypt_sensitive(algorithm: Algorithm, dek: CipherKey, value: bytes) -> bytes:
    """Encrypt a sensitive value (an encrypted DGI's content) under the DEK (or the cipher
    its owner, the session, keeps for it)."""
    _require_block_cipher(algorithm)
    padded = pad_method2(value, algorithm.block_size)
    if algorithm is Algorithm.TDES:
        return ecb_encrypt(algorithm, dek, padded)
    return cbc_encrypt(algorithm, dek, padded)


def decrypt_sensitive(algorithm: Algorithm, dek: CipherKey, value: bytes) -> bytes:
    """Inverse of :func:`encrypt_sensitive`; :class:`SpecError` (6A80) on bad length or padding."""
    _require_block_cipher(algorithm)
    try:
        if algorithm is Algorithm.TDES:
            plain = ecb_decrypt(algorithm, dek, value)
        else:
            plain = cbc_decrypt(algorithm, dek, value)
        return unpad_method2(plain, algorithm.block_size)
    except CryptoError as exc:
        raise SpecError(f"encrypted data does not decrypt: {exc}") from None


#: key type byte of PUT KEY for each algorithm (SM4: private-use value, see module doc)
KEY_TYPES: dict[Algorithm, int] = {Algorithm.TDES: 0x80, Algorithm.AES: 0x88, Algorithm.SM4: 0x70}
_ALGORITHM_OF_TYPE = {v: k for k, v in KEY_TYPES.items()}


def encode_key_component(algorithm: Algorithm, key: bytes, dek: CipherKey) -> dict[str, object]:
    """One entry of PUT KEY's ``keys`` list: key type, encrypted key field, KCV."""
    if algorithm not in KEY_TYPES:
        raise SpecError(f"PUT KEY does not carry {algorithm.value} keys")
    check = kcv(algorithm, key)
    if algorithm is Algorithm.TDES:
        return {"type": KEY_TYPES[algorithm], "key": ecb_encrypt(algorithm, dek, key), "kcv": check}
    padded = bytes(key) + bytes(-len(key) % algorithm.block_size)
    field = bytes([len(key)]) + cbc_encrypt(algorithm, dek, padded)
    return {"type": KEY_TYPES[algorithm], "key": field, "kcv": check}


def decode_key_component(entry: Mapping[str, object], dek: CipherKey) -> tuple[Algorithm, bytes]:
    """Decrypt one PUT KEY entry and check its KCV; :class:`SpecError` (6A80) if anything is off."""
    algorithm = _ALGORITHM_OF_TYPE.get(int(entry["type"]))  # type: ignore[call-overload]
    if algorithm is None:
        raise SpecError(f"key type {entry['type']:02X} is not supported")
    field = bytes(entry["key"])  # type: ignore[call-overload]
    try:
        if algorithm is Algorithm.TDES:
            key = ecb_decrypt(algorithm, dek, field)
        else:
            if not field:
                raise SpecError("empty key field")
            length, cipher = field[0], field[1:]
            key = cbc_decrypt(algorithm, dek, cipher)[:length]
            if len(key) != length:
                raise SpecError(f"key field announces {length} bytes but carries fewer")
        if len(key) not in algorithm.key_lengths:
            raise SpecError(f"{len(key)}-byte {algorithm.value} key is not a valid length")
        if kcv(algorithm, key) != bytes(entry["kcv"]):  # type: ignore[call-overload]
            raise SpecError("key check value does not match the key")
    except CryptoError as exc:
        raise SpecError(f"key field does not decrypt: {exc}") from None
    return algorithm, key


# --- CPLC -----------------------------------------------------------------------------

#: the 18 fields of the card production life cycle data, in order, with their lengths
CPLC_FIELDS: tuple[tuple[str, int], ...] = (
    ("ic_fabricator", 2), ("ic_type", 2), ("os_id", 2), ("os_release_date", 2),
    ("os_release_level", 2), ("ic_fabrication_date", 2), ("ic_serial_number", 4),
    ("ic_batch_identifier", 2), ("ic_module_fabricator", 2), ("ic_module_packaging_date", 2),
    ("icc_manufacturer", 2), ("ic_embedding_date", 2), ("ic_pre_personalizer", 2),
    ("ic_pre_personalization_date", 2), ("ic_pre_personalization_equipment_id", 4),
    ("ic_personalizer", 2), ("ic_personalization_date", 2),
    ("ic_personalization_equipment_id", 4),
)
CPLC_LENGTH = sum(n for _, n in CPLC_FIELDS)
_ZEROS = {n: bytes(n) for _, n in CPLC_FIELDS}


def build_cplc(fields: Mapping[str, bytes]) -> bytes:
    """The 42 CPLC bytes; missing fields are zeros."""
    out = bytearray()
    for name, n in CPLC_FIELDS:
        given = fields.get(name)
        value = _ZEROS[n] if given is None else bytes(given)
        if len(value) != n:
            raise SpecError(f"CPLC field {name} must be {n} bytes, got {len(value)}")
        out += value
    return bytes(out)


def parse_cplc(data: bytes) -> dict[str, bytes]:
    """CPLC fields from the 42 bytes, with or without the ``9F7F 2A`` header."""
    data = bytes(data)
    if data[:3] == b"\x9f\x7f\x2a":
        data = data[3:]
    if len(data) != CPLC_LENGTH:
        raise SpecError(f"CPLC must be {CPLC_LENGTH} bytes, got {len(data)}")
    out, pos = {}, 0
    for name, n in CPLC_FIELDS:
        out[name] = data[pos:pos + n]
        pos += n
    return out


# --- card recognition data (tag 66) ---------------------------------------------------

_GP_OID = bytes.fromhex("2A864886FC6B")  # 1.2.840.114283, GlobalPlatform


def _oid(suffix: bytes) -> TLV:
    return TLV.build(0x06, _GP_OID + suffix)


@dataclass(frozen=True)
class CardRecognition:
    """What tag 66 announces: GP version, secure channel protocol and its i parameter."""

    gp_version: str
    scp: int | None
    i_parameter: int | None


def build_card_recognition(gp_version: Sequence[int] = (2, 3, 1), scp: int = 3,
                           i_parameter: int = 0x70) -> bytes:
    """The whole ``66`` object as GET DATA returns it."""
    if type(scp) is int and type(i_parameter) is int and all(type(v) is int for v in gp_version):
        return _card_recognition(tuple(gp_version), scp, i_parameter)
    return _build_card_recognition(gp_version, scp, i_parameter)


@pure_cache(maxsize=64)
def _card_recognition(gp_version: tuple[int, ...], scp: int, i_parameter: int) -> bytes:
    """Every GET DATA 66 answers it: a pure function of three ints (errors are not kept)."""
    return _build_card_recognition(gp_version, scp, i_parameter)


def _build_card_recognition(gp_version: Sequence[int], scp: int, i_parameter: int) -> bytes:
    inner = [
        _oid(b"\x01"),
        TLV.build(0x60, [_oid(b"\x02" + bytes(gp_version))]),
        TLV.build(0x63, [_oid(b"\x03")]),
        TLV.build(0x64, [_oid(b"\x04" + bytes([scp, i_parameter]))]),
    ]
    return TLV.build(0x66, [TLV.build(0x73, inner)]).encode()


def parse_card_recognition(data: bytes) -> CardRecognition:
    """Parse GET DATA 66 (or the bare 73 template); unknown parts are ignored."""
    try:
        objs = parse_tlvs(data)
    except TLVError as exc:
        raise SpecError(f"card recognition data: {exc}") from None
    version, scp, i_param = "", None, None
    for tag, holder in ((0x60, "version"), (0x64, "scp")):
        for obj in _find(objs, tag):
            oid = next((c.value for c in obj.children if c.tag == 0x06), b"")
            if not oid.startswith(_GP_OID) or len(oid) < len(_GP_OID) + 1:
                continue
            rest = oid[len(_GP_OID) + 1:]
            if holder == "version":
                version = ".".join(str(b) for b in rest)
            elif len(rest) >= 2:
                scp, i_param = rest[0], rest[1]
    return CardRecognition(version, scp, i_param)


def _find(objs: Iterable[TLV], tag: int) -> list[TLV]:
    found: list[TLV] = []
    for o in objs:
        if o.tag == tag:
            found.append(o)
        found += _find(o.children, tag)
    return found


# --- key information template (tag E0) --------------------------------------------------


@dataclass(frozen=True)
class KeyInfo:
    """One key as the key information template lists it (never its value)."""

    key_id: int
    kvn: int
    key_type: int
    length: int


def encode_key_information(keys: Iterable[KeyInfo]) -> bytes:
    """The whole ``E0`` object: one ``C0`` entry per key."""
    entries = [TLV.build(0xC0, bytes((k.key_id, k.kvn, k.key_type, k.length))) for k in keys]
    return TLV.build(0xE0, entries).encode()


def parse_key_information(data: bytes) -> list[KeyInfo]:
    """Keys listed in GET DATA E0 (basic format: id, version, type, length)."""
    try:
        objs = parse_tlvs(data)
    except TLVError as exc:
        raise SpecError(f"key information template: {exc}") from None
    out = []
    for obj in _find(objs, 0xC0):
        if len(obj.value) < 4:
            raise SpecError(f"key information entry of {len(obj.value)} bytes is too short")
        out.append(KeyInfo(obj.value[0], obj.value[1], obj.value[2], obj.value[3]))
    return out


# --- GET STATUS registry entries ---------------------------------------------------------


@dataclass(frozen=True)
class RegistryEntry:
    """One GP registry entry: the ISD, an application or SD, or an executable load file."""

    aid: bytes
    state: int
    privileges: bytes = b""
    load_file_aid: bytes = b""
    security_domain_aid: bytes = b""
    version: bytes = b""
    modules: tuple[bytes, ...] = ()

    def to_tlv(self) -> bytes:
        """GET STATUS TLV format: one ``E3`` template."""
        return _entry_tlv(self)

    def _build_tlv(self) -> bytes:
        parts = [TLV.build(0x4F, self.aid), TLV.build(0x9F70, bytes([self.state]))]
        if self.privileges:
            parts.append(TLV.build(0xC5, self.privileges))
        if self.load_file_aid:
            parts.append(TLV.build(0xC4, self.load_file_aid))
        if self.version:
            parts.append(TLV.build(0xCE, self.version))
        parts += [TLV.build(0x84, m) for m in self.modules]
        if self.security_domain_aid:
            parts.append(TLV.build(0xCC, self.security_domain_aid))
        return TLV.build(0xE3, parts).encode()

    def to_legacy(self, with_modules: bool = False) -> bytes:
        """GET STATUS legacy format: ``L AID state privileges`` (plus the module list)."""
        privileges = self.privileges[:1] or b"\x00"
        out = encode_length(len(self.aid))[:1] + self.aid + bytes([self.state])
        if not with_modules:
            return out + privileges
        out += b"\x00" + bytes([len(self.modules)])
        return out + b"".join(bytes([len(m)]) + m for m in self.modules)

    @classmethod
    def from_tlv(cls, template: TLV) -> RegistryEntry:
        values: dict[int, bytes] = {}
        modules = []
        for child in template.children:
            if child.tag == 0x84:
                modules.append(child.value)
            else:
                values.setdefault(child.tag, child.value)
        if 0x4F not in values or not values.get(0x9F70):
            raise SpecError("registry entry lacks its AID (4F) or life cycle state (9F70)")
        return cls(values[0x4F], values[0x9F70][0], values.get(0xC5, b""), values.get(0xC4, b""),
                   values.get(0xCC, b""), values.get(0xCE, b""), tuple(modules))


@pure_cache(maxsize=512)
def _entry_tlv(entry: RegistryEntry) -> bytes:
    """A frozen entry's E3 template, built once per distinct entry (GET STATUS lists the
    same entries again and again)."""
    return entry._build_tlv()


def parse_registry(data: bytes) -> list[RegistryEntry]:
    """Registry entries of a GET STATUS response in TLV format."""
    return list(_registry(data if type(data) is bytes else bytes(data)))


@pure_cache(maxsize=256)
def _registry(data: bytes) -> tuple[RegistryEntry, ...]:
    """Frozen entries of a response: the same answers come back card after card."""
    try:
        objs = parse_tlvs(data)
    except TLVError as exc:
        raise SpecError(f"GET STATUS response: {exc}") from None
    return tuple(RegistryEntry.from_tlv(o) for o in objs if o.tag == 0xE3)


# --- specs -------------------------------------------------------------------------------

GET_DATA_INTERINDUSTRY = CommandSpec(
    name="GET DATA (class 00)", application=APP, cla=0x00, ins=0xCA,
    summary="GET DATA in the interindustry class, as some tools send it to a security domain.",
    reference="ISO/IEC 7816-4 §11.5.1; GP Card Spec 2.3 §11.3",
    p1=Param("tag_high", doc="first byte of the tag (00 for one-byte tags)"),
    p2=Param("tag_low", doc="last byte of the tag"),
    response=RAW,
    response_doc="the data object, TLV-encoded: 9F7F CPLC, 66 card data, E0 key information, "
                 "42 IIN, 45 CIN",
    ne=256,
    sws={0x9000: "returned", 0x6A88: "referenced data not found"},
    security="none",
    examples=(Example("card recognition data", "00CA006600",
                      {"tag_high": 0x00, "tag_low": 0x66, "ne": 256}),),
)

DELETE_KEY = CommandSpec(
    name="DELETE KEY", application=APP, cla=0x80, ins=0xE4,
    summary="Delete a whole key set, named by its key version number.",
    reference="GP Card Spec 2.3 §11.2.2.3 (key version number, tag D2)",
    data=Struct(Const(b"\xD2\x01"), "key_version" / Int8ub),
    data_doc="D2 01 ‖ key version number",
    response=RAW, ne=256,
    sws={0x9000: "deleted", 0x6A88: "no such key set",
         0x6985: "the key set is in use or is the last one", 0x6982: "secure channel required"},
    security="secure channel with C-MAC",
    examples=(Example("delete key set 30", "80E4000003D2013000",
                      {"data": {"key_version": 0x30}, "ne": 256}),),
)

register(GET_DATA_INTERINDUSTRY, DELETE_KEY)
