"""The issuer's records the authentication centre checks against, set from the command line
(`dualcard perso issued`, `dualcard ledger address set`, `dualcard ledger credit open`): the
centre then passes the right PIN, address and amount, and refuses the wrong ones."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from apdu_specs.crypto.pin_blocks import encipher_format_0
from host.backoffice import BackOffice, Member, MemberKind, Ratio
from host.backoffice.addresses import AddressMatch, DeliveryAddress
from host.cli.exit_codes import ExitCode
from host.cli.main import cli
from host.perso import NumberStore
from host.perso.numbering import pin_check_of
from host.service.auth_centre import AuthenticationCentre, HolderCheck
from host.service.iso8583 import ResponseCode
from host.service.pin_keys import register_pin_key
from host.service.schema import create_service_schema
from tests.perso.perso_helpers import PROFILE

AT = dt.datetime(2025, 6, 18, 9, 0, tzinfo=dt.UTC)
PVK = bytes.fromhex("FEDCBA98765432100123456789ABCDEF")
ZPK = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
PAN, CARD_ID, TERMINAL = "6200000000000005", "6200001234567890", "0000000A0001"


def _run(*args: str, stdin: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), input=stdin)
    return result.exit_code, result.output


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "ledger.sqlite3"
    office = BackOffice(f"sqlite:///{path}")
    office.init(at=AT)
    office.add_members([
        Member("zhang", MemberKind.CONSUMER, "Zhang San", AT, card_id=CARD_ID,
               consumer_group="standard"),
        Member("shop-a", MemberKind.MERCHANT, "Shop A", AT, two_way=Ratio(1, 10),
               terminals=(TERMINAL,))], at=AT)
    create_service_schema(office.db)
    register_pin_key(office.db, TERMINAL, at=AT, key=ZPK)
    office.close()
    keys = {name: "00" * 16 for name in ("imk_ac", "imk_smi", "imk_smc", "cvk")}
    (tmp_path / "issuer.json").write_text(json.dumps({**keys, "pvk": PVK.hex()}))
    yield path


def _issued(ledger: Path, pin: str) -> tuple[int, str]:
    return _run("perso", "issued", CARD_ID, "--pan", PAN, "--holder", "zhang", "--name",
                "ZHANG/SAN", "--profile", str(PROFILE), "--issuer-keys",
                str(ledger.with_name("issuer.json")), "--numbers", str(ledger), stdin=pin + "\n")


def _check(ledger: Path, pin: str, street: str, amount: int) -> tuple[object, ...]:
    office = BackOffice(f"sqlite:///{ledger}")
    try:
        result = AuthenticationCentre(office, pvk=PVK).check(HolderCheck(
            CARD_ID, PAN, encipher_format_0(ZPK, pin, PAN), amount,
            DeliveryAddress(street, "200031")), TERMINAL)
    finally:
        office.close()
    return result.pin, result.address, result.credit


def test_the_records_set_by_the_cli_are_what_the_centre_checks(ledger: Path) -> None:
    db = str(ledger)
    assert _issued(ledger, "1234") == (0, "PIN: \ncard 6200001234567890 (PAN 620000******0005): "
                                          "issued, PVV on file (PVKI 1)\n")
    assert _issued(ledger, "1234")[0] == 0  # again: the same record, the same PVV
    code, output = _run("ledger", "address", "set", "zhang", "--street", "8 Park Road",
                        "--postcode", "200031", "--city", "Shanghai", "--db", db)
    assert (code, output) == (0, "zhang: delivery address 8 Park Road, 200031 Shanghai\n")
    code, output = _run("ledger", "credit", "open", "zhang", "--limit", "50000", "--db", db)
    assert (code, output) == (0, "zhang: card issued: credit line 0.00 CNY → 500.00 CNY\n")
    assert _check(ledger, "1234", "8 park road", 389_00) == (
        ResponseCode.APPROVED, AddressMatch.FULL, ResponseCode.APPROVED)
    assert _check(ledger, "4321", "8 Park Road", 389_00)[0] == ResponseCode.INCORRECT_PIN
    assert _check(ledger, "1234", "1 Other Street", 501_00)[1:] == (
        AddressMatch.POSTCODE_ONLY, ResponseCode.EXCEEDS_LIMIT)
    code, output = _run("ledger", "address", "show", "zhang", "--json", "--db", db)
    assert json.loads(output) == {"member": "zhang", "street": "8 Park Road",
                                  "postcode": "200031", "city": "Shanghai"}


def test_refusals_are_one_line_and_record_nothing(ledger: Path) -> None:
    db = str(ledger)
    code, output = _issued(ledger, "12345")
    assert code == ExitCode.USAGE and output.splitlines()[-1] == \
        "Error: a PVV is made for a 4-digit PIN"
    with NumberStore(db) as store, store.db.read() as conn:
        assert not conn.dialect.has_table(conn, "perso_cards") or \
            pin_check_of(conn, CARD_ID) is None
    for args, expected in (
            (("address", "set", "shop-a", "--street", "1 Road", "--postcode", "1"),
             "Error: no consumer member 'shop-a'"),
            (("address", "set", "zhang", "--street", " ", "--postcode", "1"),
             "Error: an address has a street and a postcode"),
            (("address", "show", "zhang"), "Error: no delivery address on file for 'zhang'"),
            (("credit", "open", "shop-a", "--limit", "100"), "Error: no consumer member 'shop-a'"),
            (("credit", "open", "ghost", "--limit", "100"), "Error: no member 'ghost'")):
        code, output = _run("ledger", *args, "--db", db)
        assert code != 0 and output.strip().splitlines() == [expected], output
        assert "Traceback" not in output
