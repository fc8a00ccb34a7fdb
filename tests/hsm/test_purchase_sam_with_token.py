"""The merchants' purchase SAM with the purchase master where it is kept (the key file or a
fresh token): points spent on the simulated card's purse, MAC1 made and MAC2 checked there,
byte for byte what the software SAM does."""

from __future__ import annotations

import pytest

from apdu_specs.commands.purse_data import Purse
from apdu_specs.crypto.ciphers import Algorithm
from apdu_specs.sw import CardError
from host.hsm.purchase_sam import ProviderPurchaseSAM
from host.points import LoadHost, SoftwarePurchaseSAM
from host.points.errors import PointsUsageError, PurseMACError
from tests.purse.purse_helpers import TERMINAL, WHEN, connect, issuer_keys, make_card

from .conftest import MakeProvider


@pytest.mark.parametrize("algorithm", [Algorithm.AES, Algorithm.TDES])
def test_spending_through_the_provider_sam(make_provider: MakeProvider,
                                           algorithm: Algorithm) -> None:
    keys = issuer_keys(algorithm)
    provider = make_provider({"purse_purchase": (algorithm, keys.purchase_master)})
    records = []
    for sam in (ProviderPurchaseSAM(provider, TERMINAL, next_terminal_seq=7),
                SoftwarePurchaseSAM(keys, TERMINAL, next_terminal_seq=7)):
        client = connect(make_card(keys))
        client.load(Purse.BANK, 500, LoadHost(keys), terminal_id=TERMINAL, when=WHEN)
        records.append(client.purchase(Purse.BANK, 120, sam, when=WHEN))
        assert sam.next_terminal_seq == 8
        if isinstance(sam, ProviderPurchaseSAM):
            sam.close()
    assert records[0] == records[1]  # the same MAC1, so the same debit and TAC
    assert (records[0].amount, records[0].balance_after) == (120, 380)


def test_mac2_is_checked_and_a_card_of_another_issuer_refuses(make_provider: MakeProvider
                                                               ) -> None:
    keys = issuer_keys(Algorithm.AES)
    provider = make_provider({"purse_purchase": (Algorithm.AES, keys.purchase_master),
                              "other": (Algorithm.AES, bytes(16))})
    client = connect(make_card(keys))
    client.load(Purse.BANK, 500, LoadHost(keys), terminal_id=TERMINAL, when=WHEN)
    sam = ProviderPurchaseSAM(provider, TERMINAL)
    with pytest.raises(PointsUsageError, match="nothing to check"):
        sam.verify_mac2(bytes(4))
    client.purchase(Purse.BANK, 100, sam, when=WHEN)
    with pytest.raises(PurseMACError, match="MAC2"):
        sam.verify_mac2(bytes(4))  # the card's MAC2 of that debit is checked, not this one
    sam.close()
    stranger = ProviderPurchaseSAM(provider, TERMINAL, master="other")
    with pytest.raises(CardError, match="MAC invalid"):
        client.purchase(Purse.BANK, 100, stranger, when=WHEN)
    assert client.balance(Purse.BANK) == 400


def test_points_spend_cli_with_the_token(tmp_path, token_uri, monkeypatch) -> None:
    """``dualcard points spend --keys pkcs11:…``: MAC1 made and MAC2 checked in the token."""
    import json

    from click.testing import CliRunner

    from host.cli.points_cmds import points
    from host.hsm.ceremony import import_key
    from host.hsm.token import TokenKeyProvider
    from host.keystore import MasterKey
    from host.testing.softhsm import USER_PIN

    keys = issuer_keys(Algorithm.AES)
    with TokenKeyProvider.open(token_uri, USER_PIN, rw=True) as token:
        import_key(token, MasterKey("purse_purchase", Algorithm.AES, keys.purchase_master))
    card = make_card(keys)
    connect(card).load(Purse.BANK, 500, LoadHost(keys), terminal_id=TERMINAL, when=WHEN)
    path = tmp_path / "card.json"
    card.save(path)
    monkeypatch.setenv("DUALCARD_HSM_PIN", USER_PIN)
    result = CliRunner().invoke(points, ["spend", "-r", f"sim:{path}", "--purse", "bank",
                                         "--amount", "120", "--keys",
                                         f"pkcs11:token={token_uri.token}", "--terminal-id",
                                         TERMINAL.hex(), "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert (record["type"], record["purse"], record["balance_after"]) == ("purchase", "bank", 380)
