"""TLS on the service's two front doors, and the terminal's side of it.

The alliance runs its own certificate authority (:mod:`.ca`): the host's certificate
names its host names and addresses; a terminal's names its terminal id in a SAN URI
(``urn:dualcard:terminal:<id>``, :data:`TERMINAL_URI`). A terminal trusts the alliance CA
only, and checks that the certificate names the host it dialled. With mutual TLS the
service asks every terminal for its certificate, and a connection speaks only for the
terminal its certificate names (:func:`certified_terminal`); the MAC on each message is
still checked, under that terminal's key.

TLS 1.2 at least; OpenSSL picks 1.3 when both ends have it. A failed handshake is a
typed error naming what was wrong (:func:`tls_failure`): the host's certificate is not
the alliance's, has expired, names another host; or the host refused the terminal's.
Nothing here logs; no error names a key.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from apdu_specs.errors import DualcardError, LocalError, RemoteError

__all__ = [
    "TERMINAL_URI",
    "CertificateRefusedError",
    "HostCertificateError",
    "ServerTLS",
    "TLSError",
    "TLSSetupError",
    "certified_terminal",
    "client_context",
    "door_mode",
    "tls_failure",
]

#: the SAN URI of a terminal's certificate, before its terminal id
TERMINAL_URI = "urn:dualcard:terminal:"
MINIMUM_VERSION = ssl.TLSVersion.TLSv1_2
#: TLS 1.2 suites (1.3 has its own, all with forward secrecy): ECDHE with an AEAD only
_TLS12_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"

# OpenSSL's verify results (x509_vfy.h) a terminal can name for its operator
_EXPIRED, _NOT_YET_VALID = 10, 9
_HOST_MISMATCH, _IP_MISMATCH = 62, 64
#: the host refused this terminal's certificate (or that it gave none): alert names
_REFUSED_ALERTS = ("CERTIFICATE_REQUIRED", "BAD_CERTIFICATE", "UNKNOWN_CA",
                   "CERTIFICATE_EXPIRED", "CERTIFICATE_UNKNOWN", "UNSUPPORTED_CERTIFICATE",
                   "HANDSHAKE_FAILURE")


class TLSError(DualcardError):
    """Base of the errors of TLS and the alliance's certificates."""


class TLSSetupError(TLSError, LocalError):
    """A certificate, key or CA file that cannot be used as asked (names the file)."""


class HostCertificateError(TLSError, RemoteError):
    """The host's certificate is not to be trusted: ``reason`` says why (not signed by
    the alliance CA, expired, issued for another host)."""

    def __init__(self, address: str, reason: str) -> None:
        self.address, self.reason = address, reason
        super().__init__(f"the host at {address} is not trusted: its certificate {reason}")


class CertificateRefusedError(TLSError, RemoteError):
    """The host refused the terminal's TLS certificate, or asked for one it was not given."""

    def __init__(self, address: str, alert: str) -> None:
        self.address, self.alert = address, alert
        super().__init__(f"the host at {address} refused this terminal's certificate "
                         f"({alert}): give the terminal's certificate and key, issued by "
                         "the alliance CA")


def _load_chain(context: ssl.SSLContext, cert: Path, key: Path) -> None:
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise TLSSetupError(f"certificate {cert} with key {key}: "
                            f"{getattr(exc, 'reason', None) or exc.strerror or exc}") from None


def _load_ca(context: ssl.SSLContext, ca_file: Path) -> None:
    try:
        context.load_verify_locations(cafile=ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise TLSSetupError(f"CA file {ca_file}: "
                            f"{getattr(exc, 'reason', None) or exc.strerror or exc}") from None


def _refuses_terminal(exc: ssl.SSLError) -> bool:
    """Whether a failed handshake refused the peer's certificate, or its absence."""
    return isinstance(exc, ssl.SSLCertVerificationError) \
        or exc.reason == "PEER_DID_NOT_RETURN_A_CERTIFICATE"


class _AlertingSSLObject(ssl.SSLObject):
    """The server's end of one TLS connection, whose handshake failing on the terminal's
    certificate is reported once as "want read" before it is reported as itself.

    asyncio (3.11) closes a connection whose handshake failed without sending the alert
    OpenSSL wrote, so a terminal refused for its certificate saw a connection closed, as
    by a host gone down. On "want read" asyncio sends what OpenSSL wrote, the alert; the
    terminal's next bytes or end of file end the connection with the failure (at the
    latest, the handshake timeout). Any other failure (a client speaking in clear) closes
    the connection at once."""

    _failed: ssl.SSLError | None = None

    def do_handshake(self) -> None:
        if self._failed is not None:
            raise self._failed
        try:
            super().do_handshake()
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            raise
        except ssl.SSLError as exc:
            if not _refuses_terminal(exc):
                raise
            self._failed = exc
            raise ssl.SSLWantReadError(exc.errno, "handshake failed; the alert goes first") \
                from exc


@dataclass(frozen=True)
class ServerTLS:
    """The host's certificate and key; with ``client_ca``, mutual TLS: every terminal
    shows a certificate that CA issued."""

    cert: Path
    key: Path
    client_ca: Path | None = None

    @property
    def mutual(self) -> bool:
        return self.client_ca is not None

    def context(self) -> ssl.SSLContext:
        """A server context: TLS 1.2 at least, this certificate, terminals' verified."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = MINIMUM_VERSION
        context.set_ciphers(_TLS12_CIPHERS)
        context.sslobject_class = _AlertingSSLObject
        _load_chain(context, Path(self.cert), Path(self.key))
        if self.client_ca is not None:
            _load_ca(context, Path(self.client_ca))
            context.verify_mode = ssl.CERT_REQUIRED
        return context


def door_mode(tls: ssl.SSLContext | None) -> str:
    """How a door is served, for its log line: plain, tls or mutual."""
    if tls is None:
        return "plain"
    return "mutual" if tls.verify_mode == ssl.CERT_REQUIRED else "tls"


def client_context(ca_file: str | Path, *, cert: str | Path | None = None,
                   key: str | Path | None = None) -> ssl.SSLContext:
    """A terminal's context: the alliance CA (``ca_file``) the only one trusted, the host
    name checked, TLS 1.2 at least; ``cert`` and ``key`` its own certificate for mutual
    TLS."""
    if (cert is None) != (key is None):
        raise TLSSetupError("a terminal's certificate needs its key, and the key its certificate")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # hostname checked, CERT_REQUIRED
    context.minimum_version = MINIMUM_VERSION
    context.set_ciphers(_TLS12_CIPHERS)
    _load_ca(context, Path(ca_file))
    if cert is not None and key is not None:
        _load_chain(context, Path(cert), Path(key))
    return context


def certified_terminal(peer: Mapping[str, Any] | None) -> str:
    """The terminal id a verified peer certificate (``SSLSocket.getpeercert()``) names in
    its SAN URI; "" when it names none (such a connection speaks for no terminal)."""
    for kind, value in (peer or {}).get("subjectAltName", ()):
        if kind == "URI" and value.startswith(TERMINAL_URI):
            return str(value[len(TERMINAL_URI):]).upper()
    return ""


def _verify_reason(exc: ssl.SSLCertVerificationError) -> str:
    code = exc.verify_code
    if code == _EXPIRED:
        return "has expired"
    if code == _NOT_YET_VALID:
        return "is not valid yet"
    if code in (_HOST_MISMATCH, _IP_MISMATCH):
        return "was issued for another host"
    return f"was not issued by the alliance CA ({exc.verify_message})"


def tls_failure(exc: BaseException, address: str) -> TLSError | None:
    """The typed error a TLS failure on the way to ``address`` means, or None when
    ``exc`` (or what caused it) is no TLS failure the terminal can name."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return HostCertificateError(address, _verify_reason(seen))
        if isinstance(seen, ssl.SSLError):
            reason = str(seen.reason or "")
            if "ALERT" in reason and reason.endswith(_REFUSED_ALERTS):
                return CertificateRefusedError(address, reason.lower().replace("_", " "))
        seen = seen.__cause__ or seen.__context__
    return None
