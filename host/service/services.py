"""What the service's handlers act on: the alliance's issuer, points issuer and ledger.

They are the in-process link's (:class:`~host.backoffice.inprocess_link.InProcessBackOffice`),
not a copy: the service keeps one such link per terminal that asks, all over one
:class:`~host.backoffice.BackOffice`, so every answer the issuer records names the
authenticated terminal and its merchant, exactly as a terminal's own in-process link does.
"""

from __future__ import annotations

from pathlib import Path
from threading import Lock

from host.backoffice.card_keys import load_key_file
from host.backoffice.database import Database
from host.backoffice.inprocess_link import InProcessBackOffice
from host.backoffice.service import BackOffice
from host.backoffice.verifier import SoftwareCardVerifier
from host.payment.issuer import AuthorisationPolicy
from host.payment.keys import IssuerKeys
from host.payment.keys import load_issuer_keys as load_payment_keys
from host.points.keyfile import load_issuer_keys as load_points_keys
from host.points.keys import PurseKeySource

from .auth_centre import AuthenticationCentre
from .kek import CLEAR, KeyVault
from .wrap_keys import open_vault

__all__ = ["AllianceServices", "open_services"]


class AllianceServices:
    """One issuing bank's services (``bank_id``) over the alliance's back office."""

    def __init__(self, office: BackOffice, *, payment_keys: IssuerKeys,
                 points_keys: PurseKeySource, bank_id: str,
                 policy: AuthorisationPolicy | None = None, vault: KeyVault = CLEAR) -> None:
        self.office = office
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
            self._centre = AuthenticationCentre(self.office, pvk=self._payment_keys.pvk,
                                                vault=self.vault)
        return self._centre

    @authentication_centre.setter
    def authentication_centre(self, centre: AuthenticationCentre) -> None:
        self._centre = centre

    def close(self) -> None:
        self.office.close()


def open_services(db_url: str, *, payment_keys: Path, points_keys: Path, card_keys: Path,
                  bank_id: str, policy: AuthorisationPolicy | None = None,
                  kek: bytes | None = None) -> AllianceServices:
    """The services a deployment names: its database, the issuers' key files and the KEK
    its terminals' keys are wrapped under (checked here, before anything is served)."""
    office = BackOffice(db_url, verifier=SoftwareCardVerifier(load_key_file(card_keys)))
    try:
        return AllianceServices(office, payment_keys=load_payment_keys(payment_keys),
                                points_keys=load_points_keys(points_keys), bank_id=bank_id,
                                policy=policy, vault=open_vault(office.db, kek))
    except BaseException:
        office.close()
        raise
