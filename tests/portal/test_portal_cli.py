"""``dualcard portal …`` (accounts and reset codes by an operator), and the portal served by
the service host beside its HTTP API, over TLS."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from host.cli.main import cli
from host.portal.app import SESSION_COOKIE
from host.service.ca import CA_CERT, init_ca, issue_server
from host.service.core import ServiceCore
from host.service.runner import ServiceHost
from host.service.services import AllianceServices
from host.service.tcp_server import serve_in_thread
from host.service.tls import ServerTLS, client_context
from host.testing.personalise import SAMPLE
from tests.pos.conftest import build_office

from .conftest import csrf_of


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[str]:
    office = build_office(tmp_path)
    office.close()
    yield str(tmp_path / "ledger.sqlite3")


def run(*args: str, stdin: str | None = None) -> tuple[int, str]:
    done = CliRunner().invoke(cli, list(args), input=stdin)
    return done.exit_code, done.output


def test_an_operator_opens_accounts_and_issues_reset_codes(ledger: str) -> None:
    code, out = run("portal", "account", "add", "zhang", "--member", "zhang", "--role",
                    "consumer", "--password-stdin", "--db", ledger, stdin="zhang-password-1\n")
    assert code == 0 and out.strip() == "portal account zhang: consumer of member zhang"
    code, out = run("portal", "account", "add", "shop", "--member", "shop-a", "--role",
                    "merchant", "--db", ledger, stdin="shop-password-1\nshop-password-1\n")
    assert code == 0, out
    code, out = run("portal", "account", "list", "--db", ledger, "--json")
    assert code == 0 and '"login": "shop"' in out and '"role": "consumer"' in out
    code, out = run("portal", "reset-code", "zhang", "--db", ledger)
    assert code == 0 and re.fullmatch(r"reset code for zhang: [0-9a-f]{5}-[0-9a-f]{5} "
                                      r"\(valid 24 h, once\)\n", out)


@pytest.mark.parametrize(("args", "says"), [
    (("--member", "zhang", "--role", "merchant"), "member zhang is a consumer"),
    (("--member", "nobody", "--role", "consumer"), "no member 'nobody'"),
    (("--member", "alliance", "--role", "consumer"), "member alliance is a alliance"),
])
def test_an_account_for_the_wrong_member_is_refused_in_one_line(
        ledger: str, args: tuple[str, ...], says: str) -> None:
    code, out = run("portal", "account", "add", "someone", *args, "--password-stdin",
                    "--db", ledger, stdin="some-password-1\n")
    assert code == 1 and says in out and "Traceback" not in out


def test_a_short_password_and_a_taken_login_are_refused(ledger: str) -> None:
    base = ("portal", "account", "add", "zhang", "--member", "zhang", "--role", "consumer",
            "--password-stdin", "--db", ledger)
    assert run(*base, stdin="short\n")[0] == 1
    assert run(*base, stdin="long-enough-1\n")[0] == 0
    code, out = run(*base, stdin="long-enough-1\n")
    assert code == 1 and "login 'zhang' is taken" in out
    assert run("portal", "reset-code", "nobody", "--db", ledger)[0] == 1


def test_served_by_the_host_beside_the_api_over_tls(tmp_path: Path, ledger: str) -> None:
    """`dualcard host serve` serves the portal under /portal on its HTTP door; over TLS the
    session cookie is Secure."""
    assert run("portal", "account", "add", "ops", "--member", "alliance", "--role", "operator",
               "--password-stdin", "--db", ledger, stdin="operator-pass-1\n")[0] == 0
    pki = tmp_path / "pki"
    init_ca(pki)
    server = issue_server(pki, ["127.0.0.1"], pki)
    office = build_office(tmp_path)
    services = AllianceServices(office, payment_keys=SAMPLE.payment_keys,
                                points_keys=SAMPLE.purse_keys, bank_id="bank")
    host = ServiceHost(ServiceCore(services), tls=ServerTLS(server.cert, server.key))
    try:
        with serve_in_thread(host) as bound, httpx.Client(
                base_url=f"https://127.0.0.1:{bound['http'][1]}",
                verify=client_context(pki / CA_CERT), follow_redirects=False) as client:
            assert client.get("/health").json() == {"status": "ok"}
            token = csrf_of(client.get("/portal/login").text)
            answer = client.post("/portal/login", data={
                "login": "ops", "password": "operator-pass-1", "csrf": token})
            assert answer.status_code == 303, answer.text
            cookie = answer.headers["set-cookie"]
            assert cookie.startswith(f"{SESSION_COOKIE}=") and "Secure" in cookie
            assert client.get("/portal/operator").status_code == 200
    finally:
        office.close()


def test_a_database_without_a_back_office_is_named(tmp_path: Path) -> None:
    code, out = run("portal", "account", "list", "--db", str(tmp_path / "empty.sqlite3"))
    assert code == 1 and "run `dualcard ledger init`" in out and "Traceback" not in out


@pytest.mark.parametrize("options", [(), ("--plain", "--tls-key", "k.pem")])
def test_serving_alone_in_clear_is_asked_for(ledger: str, tmp_path: Path,
                                             options: tuple[str, ...]) -> None:
    (tmp_path / "k.pem").write_text("not a key")
    done = CliRunner().invoke(cli, ["portal", "serve", "--db", ledger, *[
        str(tmp_path / o) if o.endswith(".pem") else o for o in options]])
    assert done.exit_code == 2 and "the portal serves TLS" in done.output
