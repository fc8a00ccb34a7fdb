"""A points load whose MAC1, MAC2 and TAC are computed where the purse masters are (the key
file or a fresh token), against the simulated card's purse."""

from __future__ import annotations

import datetime as dt

import pytest

from apdu_specs.commands.purse_data import Purse
from apdu_specs.crypto.ciphers import Algorithm
from host.hsm.load_host import ProviderLoadHost
from host.points import LoadHost
from host.points.errors import PurseMACError
from tests.purse.purse_helpers import connect, issuer_keys, make_card

from .conftest import MakeProvider

WHEN = dt.datetime(2025, 3, 14, 10, 31)
TERMINAL = bytes.fromhex("000001000050")


@pytest.mark.parametrize("algorithm", [Algorithm.AES, Algorithm.TDES])
def test_load_through_the_provider(make_provider: MakeProvider, algorithm: Algorithm) -> None:
    keys = issuer_keys(algorithm)
    provider = make_provider({"purse_load": (algorithm, keys.load_master),
                              "purse_tac": (algorithm, keys.tac_master)})
    card = make_card(keys)
    client = connect(card)
    host = ProviderLoadHost(provider)
    record = client.load(Purse.BANK, 25, host, terminal_id=TERMINAL, when=WHEN)
    assert (record.amount, record.balance_after) == (25, 25)
    reference = connect(make_card(keys)).load(Purse.BANK, 25, LoadHost(keys),
                                              terminal_id=TERMINAL, when=WHEN)
    assert record.tac == reference.tac


def test_a_card_of_another_issuer_is_refused(make_provider: MakeProvider) -> None:
    keys = issuer_keys(Algorithm.AES)
    provider = make_provider({"purse_load": (Algorithm.AES, bytes(16)),
                              "purse_tac": (Algorithm.AES, keys.tac_master)})
    client = connect(make_card(keys))
    with pytest.raises(PurseMACError, match="MAC1"):
        client.load(Purse.BANK, 25, ProviderLoadHost(provider), terminal_id=TERMINAL, when=WHEN)


def test_points_load_cli_with_the_token(tmp_path, token_uri, monkeypatch) -> None:
    """``dualcard points load --keys pkcs11:…``: MAC1, MAC2 and the TAC in the token."""
    import json

    from click.testing import CliRunner

    from host.cli.points_cmds import points
    from host.hsm.ceremony import import_key
    from host.hsm.token import TokenKeyProvider
    from host.keystore import MasterKey
    from host.testing.softhsm import USER_PIN

    keys = issuer_keys(Algorithm.AES)
    with TokenKeyProvider.open(token_uri, USER_PIN, rw=True) as token:
        import_key(token, MasterKey("purse_load", Algorithm.AES, keys.load_master))
        import_key(token, MasterKey("purse_tac", Algorithm.AES, keys.tac_master))
    path = tmp_path / "card.json"
    make_card(keys).save(path)
    monkeypatch.setenv("DUALCARD_HSM_PIN", USER_PIN)
    result = CliRunner().invoke(points, ["load", "-r", f"sim:{path}", "--purse", "bank",
                                         "--amount", "250", "--keys",
                                         f"pkcs11:token={token_uri.token}", "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert (record["type"], record["purse"], record["balance_after"]) == ("load", "bank", 250)
