"""The alliance's CA (``dualcard host ca``): what its certificates say, where their keys
go, and what it refuses; and ``dualcard host serve`` refusing to serve in clear unasked."""

from __future__ import annotations

import datetime as dt
import ipaddress
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from host.cli.host_cmds import host as host_group
from host.records.errors import ValidationError
from host.service.ca import init_ca, issue_server, issue_terminal
from host.service.tls import TERMINAL_URI, TLSSetupError, certified_terminal
from tests.pos.conftest import terminal_files

pytestmark = pytest.mark.unit

NOW = dt.datetime(2026, 6, 18, 1, 30, tzinfo=dt.UTC)


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_the_ca_signs_end_entities_only_and_its_key_is_the_owner_s(tmp_path: Path) -> None:
    made = init_ca(tmp_path / "ca", now=NOW)
    cert = _cert(made.cert)
    constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca and constraints.value.path_length == 0
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
    assert cert.public_key().curve.name == "secp256r1"  # type: ignore[union-attr]
    assert cert.not_valid_after_utc - NOW == dt.timedelta(days=3650)
    assert stat.S_IMODE(made.key.stat().st_mode) == 0o600


def test_the_host_certificate_names_its_hosts_and_serves_servers_only(tmp_path: Path) -> None:
    init_ca(tmp_path / "ca")
    made = issue_server(tmp_path / "ca", ["127.0.0.1", "host.example"], tmp_path / "host",
                        days=10, now=NOW)
    cert = _cert(made.cert)
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    assert names.get_values_for_type(x509.DNSName) == ["host.example"]
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert cert.issuer == _cert(tmp_path / "ca" / "ca.pem").subject
    assert made.not_after == NOW + dt.timedelta(days=10)
    assert stat.S_IMODE(made.key.stat().st_mode) == 0o600


def test_a_terminal_certificate_names_its_terminal_id(tmp_path: Path) -> None:
    init_ca(tmp_path / "ca")
    made = issue_terminal(tmp_path / "ca", "0000000a 0001", tmp_path / "t")
    cert = _cert(made.cert)
    assert made.cert.name == "terminal-0000000A0001.pem"
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "0000000A0001"
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.UniformResourceIdentifier) == [
        TERMINAL_URI + "0000000A0001"]
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    with pytest.raises(ValidationError):
        issue_terminal(tmp_path / "ca", "not-an-id", tmp_path / "t")


def test_the_ca_never_overwrites_and_needs_its_key(tmp_path: Path) -> None:
    init_ca(tmp_path / "ca")
    key_before = (tmp_path / "ca" / "ca.key").read_bytes()
    with pytest.raises(TLSSetupError, match="exists"):
        init_ca(tmp_path / "ca")
    assert (tmp_path / "ca" / "ca.key").read_bytes() == key_before
    (tmp_path / "ca" / "ca.key").unlink()
    with pytest.raises(TLSSetupError, match="no CA in"):
        issue_server(tmp_path / "ca", ["127.0.0.1"], tmp_path / "host")
    init_ca(tmp_path / "b")
    (tmp_path / "ca" / "ca.key").write_bytes((tmp_path / "b" / "ca.key").read_bytes())
    with pytest.raises(TLSSetupError, match="is not the key of"):
        issue_server(tmp_path / "ca", ["127.0.0.1"], tmp_path / "host")


def test_the_certified_terminal_is_the_san_uri_s_or_none() -> None:
    peer = {"subjectAltName": (("DNS", "x"), ("URI", TERMINAL_URI + "0000000a0001"))}
    assert certified_terminal(peer) == "0000000A0001"
    assert certified_terminal({"subjectAltName": (("URI", "https://x"),)}) == ""
    assert certified_terminal(None) == ""


def _serve(directory: Path, *extra: str) -> tuple[int, str]:
    ran = CliRunner().invoke(host_group, [
        "serve", "--db", str(directory / "ledger.sqlite3"), "--bank-id", "bank",
        "--payment-keys", str(directory / "issuer.json"),
        "--points-keys", str(directory / "points-keys.json"),
        "--card-keys", str(directory / "card-keys.json"), *extra])
    return ran.exit_code, ran.output


def test_serve_without_tls_options_says_which_to_give(tmp_path: Path) -> None:
    directory = Path(terminal_files(tmp_path)["dir"])
    code, output = _serve(directory)
    assert code == 2 and "give --tls-cert and --tls-key" in output and "--plain" in output
    assert "Traceback" not in output
    code, output = _serve(directory, "--plain", "--client-ca", str(directory / "issuer.json"))
    assert code == 2 and "--plain serves without TLS" in output
    code, output = _serve(directory, "--tls-cert", str(directory / "issuer.json"),
                          "--tls-key", str(directory / "issuer.json"))
    assert code == 1 and output.count("\n") == 1 and "certificate" in output
