"""One card personalised with a token through the real stack: the simulated card served by
vpcd, pcscd in between, `dualcard perso run --keys pkcs11:…` as an operator types it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cardlib.content import CardLifeCycle
from host.cli.perso_cmds import perso
from host.hsm import PKCS11URI
from host.testing.softhsm import USER_PIN
from simulator.card import SimulatedCard
from tests.perso.perso_helpers import PROFILE, sample_keys
from tests.perso.test_perso_vpcd import served, stack  # noqa: F401 (the reader's fixtures)

pytestmark = [pytest.mark.vpcd, pytest.mark.timeout(180)]


def test_one_card_with_a_token_through_the_virtual_reader(
        served: SimulatedCard, tmp_path: Path, token_uri: PKCS11URI,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    from host.hsm.ceremony import import_key
    from host.hsm.token import TokenKeyProvider

    keys = sample_keys("AES")
    with TokenKeyProvider.open(token_uri, USER_PIN, rw=True) as provider:
        for info in keys.info():
            import_key(provider, keys.get(info.name))
        masters = provider.info()
    monkeypatch.setenv("DUALCARD_HSM_PIN", USER_PIN)
    monkeypatch.chdir(tmp_path)
    holder = json.dumps({"name": "DOE/JANE", "holder_id": "X-1", "pan": "6222030000000071",
                         "card_id": "8860000000000077"})
    result = CliRunner().invoke(perso, [
        "run", "--reader", "pcsc:Virtual PCD", "--profile", str(PROFILE),
        "--keys", f"pkcs11:token={token_uri.token}", "--holder", holder,
        "--pin-mailer", "pins.csv", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["verified"] and data["apdus"]["total"] == 54  # as with the key file
    for runtime in served.runtimes().values():
        assert runtime.chip.content.card_state == CardLifeCycle.SECURED
        assert not runtime.internal_errors
    with TokenKeyProvider.open(token_uri, USER_PIN) as provider:
        assert provider.info() == masters
