"""What the service's handlers act on: the alliance's issuer, points issuer and ledger.

They are the in-process link's (:class:`~host.backoffice.inprocess_link.InProcessBackOffice`),
not a copy: the service keeps one such link per terminal that asks, all over one
:class:`~host.backoffice.BackOffice`, so every answer the issuer records names the
authenticated terminal and its merchant, exactly as a terminal's own in-process link does.

The issuers' keys are key files or a PKCS#11 token (a ``pkcs11:`` URI in place of a file,
docs/hsm.md): the chip-1 issuer, the load host and the card verifier then compute in the
token. Each token is opened once — one session, whose calls the module's lock serialises
between the handler threads (:mod:`host.hsm.token`) — and closed with the services.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from threading import Lock

from host.backoffice.card_keys import load_key_file
from host.backoffice.database import Database
from host.backoffice.inprocess_link import InProcessBackOffice
from host.backoffice.service import BackOffice
from host.backoffice.verifier import CardVerifier, SoftwareCardVerifier
from host.hsm.issuer import ProviderPaymentKeys
from host.hsm.provider import KeyProvider
from host.hsm.uri import is_pkcs11_uri, parse_pkcs11_uri
from host.hsm.verifier import ProviderCardVerifier, load_card_register
from host.payment.issuer import AuthorisationPolicy
from host.payment.keys import PaymentKeys
from host.payment.keys import load_issuer_keys as load_payment_keys
from host.points.keyfile import load_issuer_keys as load_points_keys
from host.points.keys import PurseKeySource

from .auth_centre import AuthenticationCentre
from .errors import ServiceConfigurationError
from .kek import CLEAR, KeyVault
from .wrap_keys import open_vault

__all__ = ["AllianceServices", "open_services"]

#: logs in to the token a ``pkcs11:`` URI names (the CLI asks for the PIN)
OpenToken = Callable[[str], KeyProvider]


class AllianceServices:
    """One issuing bank's services (``bank_id``) over the alliance's back office."""

    def __init__(self, office: BackOffice, *, payment_keys: PaymentKeys,
                 points_keys: PurseKeySource | KeyProvider, bank_id: str,
                 policy: AuthorisationPolicy | None = None, vault: KeyVault = CLEAR,
                 owned: ExitStack | None = None) -> None:
        self.office = office
        #: what closes with the services after the back office (tokens, their card keys)
        self._owned = owned or ExitStack()
        #: the terminals' keys and webhook secrets in and out of the database (:mod:`.kek`)
        self.vault = vault
        self.bank_id = bank_id
        self._payment_keys = payment_keys
        self._points_keys = points_keys
        self._policy = policy
        self._links: dict[str, InProcessBackOffice] = {}
        self._lock = Lock()
        self._centre: AuthenticationCentre | None = None

    def __repr__(self) -> str:
        return f"AllianceServices(bank {self.bank_id}, {len(self._links)} terminals served)"

    @property
    def db(self) -> Database:
        return self.office.db

    def link(self, terminal_id: str) -> InProcessBackOffice:
        """The in-process link serving ``terminal_id`` (made on its first request)."""
        link = self._links.get(terminal_id)
        if link is None:
            with self._lock:
                link = self._links.get(terminal_id) or InProcessBackOffice(
                    self.office, payment_keys=self._payment_keys, points_keys=self._points_keys,
                    bank_id=self.bank_id, policy=self._policy, terminal_id=terminal_id)
                self._links[terminal_id] = link
        return link

    @property
    def authentication_centre(self) -> AuthenticationCentre:
        """The holder checks (PIN, address, credit) both doors answer, with the issuer's PVK
        (made on first use; a deployment may set its own, e.g. another PIN try limit)."""
        if self._centre is None:
            self._centre = AuthenticationCentre(self.office, pvk=self._payment_keys,
                                                vault=self.vault)
        return self._centre

    @authentication_centre.setter
    def authentication_centre(self, centre: AuthenticationCentre) -> None:
        self._centre = centre

    def close(self) -> None:
        try:
            self.office.close()
        finally:
            self._owned.close()


def open_services(db_url: str, *, payment_keys: str | Path, points_keys: str | Path,
                  card_keys: str | Path, bank_id: str, policy: AuthorisationPolicy | None = None,
                  kek: bytes | None = None, card_register: Path | None = None,
                  open_token: OpenToken | None = None) -> AllianceServices:
    """The services a deployment names: its database, the issuers' keys (key files, or
    ``pkcs11:`` URIs opened with ``open_token``, every master key each part uses checked in
    the token), the card register a token's verifier needs for cryptograms, and the KEK its
    terminals' keys are wrapped under — all checked here, before anything is served."""
    with ExitStack() as owned:
        tokens = _Tokens(owned, open_token)
        payment = tokens.payment_keys(payment_keys) or load_payment_keys(payment_keys)
        points = tokens.provider(points_keys, "purse_load", "purse_tac") \
            or load_points_keys(points_keys)
        office = BackOffice(db_url, verifier=tokens.verifier(card_keys, card_register)
                            or SoftwareCardVerifier(load_key_file(card_keys)))
        try:
            services = AllianceServices(office, payment_keys=payment, points_keys=points,
                                        bank_id=bank_id, policy=policy,
                                        vault=open_vault(office.db, kek), owned=owned.pop_all())
        except BaseException:
            office.close()
            raise
        return services
    raise AssertionError("unreachable")  # pragma: no cover


class _Tokens:
    """The tokens the key options name, each opened once and closed with ``owned``."""

    def __init__(self, owned: ExitStack, open_token: OpenToken | None) -> None:
        self._owned = owned
        self._open = open_token
        self._opened: dict[tuple[str, str | None], KeyProvider] = {}

    def provider(self, source: str | Path, *masters: str) -> KeyProvider | None:
        """The token ``source`` names, holding ``masters`` (None: ``source`` is a file)."""
        if not is_pkcs11_uri(source):
            return None
        uri = parse_pkcs11_uri(str(source))
        key = (uri.token, uri.module_path)
        if key not in self._opened:
            if self._open is None:
                raise ServiceConfigurationError(f"{uri}: no way to open a token was given")
            self._opened[key] = self._owned.enter_context(self._open(str(source)))
        provider = self._opened[key]
        for name in masters:
            provider.key(name)
        return provider

    def payment_keys(self, source: str | Path) -> ProviderPaymentKeys | None:
        provider = self.provider(source)
        if provider is None:
            return None
        keys = ProviderPaymentKeys(provider)
        keys.check()
        return keys

    def verifier(self, source: str | Path, register: Path | None) -> CardVerifier | None:
        """The back office's verifier over the token's masters; its card keys destroyed
        when the services close (before the token's session)."""
        provider = self.provider(source, "purse_tac", "emv_ac")
        if provider is None:
            return None
        cards = load_card_register(register) if register is not None else None
        verifier = ProviderCardVerifier(provider, cards)
        self._owned.callback(verifier.close)
        return verifier
