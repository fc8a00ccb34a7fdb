"""The alliance's own certificate authority: its root, the host's certificates, terminals'.

One EC P-256 key per certificate, signed with ECDSA/SHA-256. The CA's certificate may
sign end-entity certificates only (path length 0). The host's certificate names each of
its host names and IP addresses in its SAN and serves TLS servers only; a terminal's names
its terminal id in its subject CN and, as the service reads it, in a SAN URI
(``urn:dualcard:terminal:<id>``, :data:`~host.service.tls.TERMINAL_URI`) and serves TLS
clients only. Certificates are PEM; private keys PEM PKCS#8, unencrypted, written to new
files of mode 600 (an existing file is never overwritten).

Validity: the CA ten years, the host's certificate 397 days (what browsers accept, a
habit worth keeping), a terminal's 825 days. ``now`` is a parameter so that tests can
issue certificates that have already expired.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from host.records.ids import check_terminal_id

from .tls import TERMINAL_URI, TLSSetupError

__all__ = [
    "CA_CERT",
    "CA_DAYS",
    "CA_KEY",
    "SERVER_DAYS",
    "TERMINAL_DAYS",
    "Issued",
    "init_ca",
    "issue_server",
    "issue_terminal",
]

CA_CERT, CA_KEY = "ca.pem", "ca.key"
CA_DAYS, SERVER_DAYS, TERMINAL_DAYS = 3650, 397, 825
_ORGANISATION = "dualcard alliance"
#: a little slack for clocks behind the issuer's
_BACKDATE = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class Issued:
    """What was written: the certificate, its key, and until when it is valid."""

    cert: Path
    key: Path
    subject: str
    not_after: dt.datetime


@dataclass(frozen=True)
class _Authority:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, _ORGANISATION),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Write ``data`` to a new file of ``mode``; an existing one is an error, not replaced."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        raise TLSSetupError(f"{path} exists; the CA never overwrites a file") from None
    except OSError as exc:
        raise TLSSetupError(f"cannot write {path}: {exc.strerror}") from None
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def _write_pair(cert: x509.Certificate, key: ec.EllipticCurvePrivateKey, cert_path: Path,
                key_path: Path) -> Issued:
    for path in (cert_path, key_path):
        if path.exists():
            raise TLSSetupError(f"{path} exists; the CA never overwrites a file")
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    _write_new(key_path, key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()), 0o600)
    _write_new(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    subject = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    return Issued(cert_path, key_path, str(subject), cert.not_valid_after_utc)


def _builder(subject: x509.Name, issuer: x509.Name, public: ec.EllipticCurvePublicKey,
             now: dt.datetime, days: int) -> x509.CertificateBuilder:
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
            .public_key(public).serial_number(x509.random_serial_number())
            .not_valid_before(now - _BACKDATE).not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False))


def _usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=not ca, content_commitment=False,
                         key_encipherment=False, data_encipherment=False, key_agreement=False,
                         key_cert_sign=ca, crl_sign=ca, encipher_only=False, decipher_only=False)


def _now(now: dt.datetime | None) -> dt.datetime:
    return now if now is not None else dt.datetime.now(dt.UTC)


def init_ca(out: str | Path, *, name: str = "dualcard alliance CA", days: int = CA_DAYS,
            now: dt.datetime | None = None) -> Issued:
    """A new CA in directory ``out``: ``ca.pem`` (to give every terminal and the host)
    and ``ca.key`` (to keep offline)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = _name(name)
    cert = (_builder(subject, subject, key.public_key(), _now(now), days)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_usage(ca=True), critical=True)
            .sign(key, hashes.SHA256()))
    out = Path(out)
    return _write_pair(cert, key, out / CA_CERT, out / CA_KEY)


def _authority(ca_dir: str | Path) -> _Authority:
    """The CA in ``ca_dir`` (its ``ca.pem`` and ``ca.key``)."""
    ca_dir = Path(ca_dir)
    try:
        cert = x509.load_pem_x509_certificate((ca_dir / CA_CERT).read_bytes())
        key = serialization.load_pem_private_key((ca_dir / CA_KEY).read_bytes(), None)
    except OSError as exc:
        raise TLSSetupError(f"no CA in {ca_dir}: {exc.strerror} ({exc.filename})") from None
    except ValueError as exc:
        raise TLSSetupError(f"the CA in {ca_dir} does not load: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.public_key() != cert.public_key():
        raise TLSSetupError(f"{ca_dir / CA_KEY} is not the key of {ca_dir / CA_CERT}")
    return _Authority(cert, key)


def _issue(authority: _Authority, common_name: str, names: Sequence[x509.GeneralName],
           purpose: x509.ObjectIdentifier, now: dt.datetime, days: int) -> tuple[
               x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    ca_key_id = x509.AuthorityKeyIdentifier.from_issuer_public_key(authority.key.public_key())
    cert = (_builder(_name(common_name), authority.cert.subject, key.public_key(), now, days)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_usage(ca=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([purpose]), critical=False)
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(ca_key_id, critical=False)
            .sign(authority.key, hashes.SHA256()))
    return cert, key


def _host_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def issue_server(ca_dir: str | Path, hosts: Sequence[str], out: str | Path, *,
                 days: int = SERVER_DAYS, now: dt.datetime | None = None) -> Issued:
    """The host's certificate for ``hosts`` (names or IP addresses), written to
    ``out``/``server.pem`` and ``server.key``."""
    if not hosts:
        raise TLSSetupError("a host certificate names at least one host name or address")
    cert, key = _issue(_authority(ca_dir), hosts[0], [_host_name(h) for h in hosts],
                       ExtendedKeyUsageOID.SERVER_AUTH, _now(now), days)
    out = Path(out)
    return _write_pair(cert, key, out / "server.pem", out / "server.key")


def issue_terminal(ca_dir: str | Path, terminal_id: str, out: str | Path, *,
                   days: int = TERMINAL_DAYS, now: dt.datetime | None = None) -> Issued:
    """Terminal ``terminal_id``'s certificate, written to ``out``/``terminal-<id>.pem``
    and ``.key``."""
    terminal_id = check_terminal_id(terminal_id)
    names = [x509.UniformResourceIdentifier(TERMINAL_URI + terminal_id)]
    cert, key = _issue(_authority(ca_dir), terminal_id, names,
                       ExtendedKeyUsageOID.CLIENT_AUTH, _now(now), days)
    out = Path(out)
    return _write_pair(cert, key, out / f"terminal-{terminal_id}.pem",
                       out / f"terminal-{terminal_id}.key")
