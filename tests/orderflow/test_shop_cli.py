"""`dualcard shop` refusals: one line and an exit code, before any card or service is
reached."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from host.cli.exit_codes import ExitCode
from host.cli.main import cli
from host.shop import ShopStore


def _run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), env=env)
    return result.exit_code, result.output


def test_a_short_password_is_refused(tmp_path: Path) -> None:
    code, output = _run("shop", "account", "zhang", "--shop", str(tmp_path), "--card-id", "C1",
                        "--name", "Zhang", "--password", "short")
    assert code == ExitCode.USAGE and output.strip().startswith("Error: a password needs")


def test_a_wrong_password_orders_nothing(tmp_path: Path) -> None:
    ShopStore(tmp_path).set_account("zhang", "C1", "Zhang", "green-tea-2030")
    key = tmp_path / "terminal.key"
    key.write_text("{}")
    code, output = _run("shop", "order", "--shop", str(tmp_path), "--service", "http://127.0.0.1:9",
                        "--terminal-key", str(key), "--merchant", "shop-a", "--member", "zhang",
                        "--item", "tea", "--street", "8 Park Road", "--postcode", "200031",
                        "--reader", "sim:none.json", "--keys", "none.json", "--zpk", str(key),
                        env={"DUALCARD_SHOP_PASSWORD": "not-the-password"})
    assert code == ExitCode.AUTHENTICATION, output
    assert "member id or password wrong" in output and "Traceback" not in output
    assert ShopStore(tmp_path).orders() == []
