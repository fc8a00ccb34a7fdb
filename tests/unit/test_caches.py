"""Module-level caches go through one seam (:mod:`apdu_specs.caches`), ``clear_caches()``
empties every one of them, and no key outlives the objects that own it."""

from __future__ import annotations

import ast
import gc
import random
import types
from pathlib import Path

import apdu_specs
from apdu_specs.caches import BoundedCache, cache_sizes, clear_caches, pure_cache
from apdu_specs.commands.iso7816 import SELECT
from apdu_specs.commands.purse_data import Purse
from apdu_specs.crypto.ciphers import Algorithm
from apdu_specs.crypto.diversify import Diversification
from apdu_specs.crypto.emv import EMVScheme
from apdu_specs.crypto.kcv import kcv
from apdu_specs.crypto.keyset import StaticKeys
from apdu_specs.crypto.mac import retail_mac
from apdu_specs.crypto.purse import PurseScheme
from apdu_specs.crypto.scp03 import CardHandshake, HostHandshake
from apdu_specs.payment.cryptogram import VERSIONS, IssuerMasterKeys
from apdu_specs.tlv import parse_dol, parse_tlvs
from host.points.keys import PurseIssuerKeys
from simulator.blank import new_blank_card

ROOT = Path(__file__).resolve().parents[2]
OURS = ("apdu_specs", "cardlib", "simulator", "host")
SEAM = ROOT / "apdu_specs" / "caches.py"


def _warm_up() -> None:
    """Work that fills many module-level caches: a blank card answering a SELECT, TLV and
    DOL parses, a command built."""
    card = new_blank_card("CACHES")
    card.runtime(1).transmit(SELECT.build(selection=0x04, occurrence=0x00,
                                  data={"name": bytes.fromhex("A000000151000000")},
                                  ne=256).encode())
    parse_tlvs(bytes.fromhex("6F0A8408A000000151000000"))
    parse_dol(bytes.fromhex("9F02069F0306"))


def test_clear_caches_empties_every_module_level_cache() -> None:
    _warm_up()
    filled = {name for name, size in cache_sizes().items() if size}
    assert len(filled) >= 5, filled  # the warm-up reached caches of every package
    assert any(name.startswith("cardlib.") for name in filled)
    assert apdu_specs.clear_caches is clear_caches
    clear_caches()
    assert set(cache_sizes().values()) == {0}
    _warm_up()  # and they work again afterwards
    assert any(cache_sizes().values())


def test_the_seam_refuses_an_unbounded_or_unnamed_twice_cache() -> None:
    for make in (lambda: pure_cache(0), lambda: BoundedCache("tests.unbounded", 0)):
        try:
            make()
        except ValueError:
            continue
        raise AssertionError("an unbounded module-level cache was accepted")
    BoundedCache("tests.once", 4).put("a", 1)
    try:
        BoundedCache("tests.once", 4)
    except ValueError:
        pass
    else:
        raise AssertionError("two caches under one name")


def _cache_decorators(path: Path) -> list[str]:
    """``functools.lru_cache``/``functools.cache`` uses in one module, by line."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        name = (node.attr if isinstance(node, ast.Attribute)
                else node.id if isinstance(node, ast.Name) else None)
        if name in ("lru_cache", "cache") and not (isinstance(node, ast.Name)
                                                   and not isinstance(node.ctx, ast.Load)):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_no_module_level_cache_outside_the_seam() -> None:
    """Every cache a module keeps is made by :mod:`apdu_specs.caches`, so
    :func:`clear_caches` reaches it and it is bounded."""
    offenders = [hit for package in OURS for path in sorted((ROOT / package).rglob("*.py"))
                 if path != SEAM for hit in _cache_decorators(path)]
    assert offenders == []


def _holders(secret: bytes) -> list[str]:
    """Every object (frames aside) that refers to a bytes object equal to ``secret``."""
    gc.collect()
    held = []
    for obj in gc.get_objects():
        if isinstance(obj, types.FrameType):
            continue
        for ref in gc.get_referents(obj):  # a plain loop: a closure over secret would hold it
            if type(ref) is bytes and ref == secret:
                held.append(type(obj).__name__)
                break
    return held


def _use_keys(master: bytes) -> list[str]:
    """Every hot path that used to keep keys at module level, with keys made from
    ``master``; returns the keys derived on the way (as hex: a list of the keys themselves
    would hold them)."""
    static = StaticKeys.from_master(master, bytes(range(10)), Diversification.KDF3)
    host = HostHandshake(static, host_challenge=bytes(8))
    card = CardHandshake(static, kdd=bytes(10), kvn=0x30, sequence_counter=1,
                         sd_aid=bytes.fromhex("A000000151000000"))
    host.process_initialize_update_response(card.respond_initialize_update(bytes(8)))
    _apdu, session = host.external_authenticate(0x33)
    session.wrap_command(bytes.fromhex("80E2000003010203"))
    version = VERSIONS[0x12]
    issuer = IssuerMasterKeys(master, master[::-1], bytes(reversed(master[:8])) + master[:8])
    card_keys = version.icc_master_keys(issuer, "6212345678901234", "01")
    session_key = EMVScheme(Algorithm.TDES).ac_session_key(card_keys.ac, 7)
    retail_mac(session_key, bytes(16))
    purse_issuer = PurseIssuerKeys(Algorithm.AES, master, master[::-1], master[1:] + master[:1])
    purse_keys = purse_issuer.card_keys("1234567890123456", Purse(1))
    scheme = PurseScheme(Algorithm.AES)
    scheme.mac(purse_keys.cipher("dlk"), bytes(16))
    scheme.load_session_key(purse_keys.cipher("dlk"), bytes(4), 1)
    kcv(Algorithm.AES, master)
    static.kcvs()
    return [k.hex() for k in (static.enc, static.mac, card_keys.ac, session_key, purse_keys.dlk,
                              purse_keys.dtk)]


def test_no_key_outlives_its_owners() -> None:
    master = random.Random(7).randbytes(16)
    derived = _use_keys(master)
    # the owners (key sets, sessions, issuer keys) are gone: nothing may still hold a key
    assert _holders(master) == []
    for key in derived:
        assert _holders(bytes.fromhex(key)) == [], key
