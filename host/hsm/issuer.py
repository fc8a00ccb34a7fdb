"""The chip-1 issuer's online authorisation with its master keys in a key provider: the
ARQC (and the second cryptogram) verified, the ARPC computed and issuer scripts keyed where
the keys are.

:class:`ProviderIssuer` is a :class:`~host.payment.issuer.Issuer` (the same policy, facts
and answers) whose key operations — checking a cryptogram, making tag 91, MACing and
enciphering script commands — go through :mod:`.schemes`. A script's SK-SMI and SK-SMC are
derived in the provider from the card's ICC master keys (``R = ARQC``) and destroyed when the
response is built (:class:`ProviderScriptSession`). :class:`ProviderPaymentKeys` is what the
service host takes instead of the payment key file: the issuer, the CVV of a swiped track and
the PVV of an online PIN.
"""

from __future__ import annotations

import hmac
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from apdu_specs.crypto.errors import CryptogramError
from apdu_specs.payment.cryptogram import CryptogramVersion
from apdu_specs.payment.issuer_response import (
    ARPCMethod,
    CardStatusUpdate,
    IssuerAuthenticationData,
)
from apdu_specs.payment.script import ScriptKeying
from host.payment.issuer import AuthorisationRequest, AuthorisationResponse, Issuer
from host.payment.stripe import stripe_refusal

from .card_checks import ProviderCardChecks
from .errors import HSMUnsupportedError
from .provider import HeldKey, KeyProvider
from .schemes import (
    MacKey,
    ac_session_key,
    arpc_method1_under,
    arpc_method2_under,
    cryptogram_under,
    encipher_under,
    icc_master_key,
    script_mac_under,
    sm_enc_key,
    sm_mac_key,
)

__all__ = ["ProviderIssuer", "ProviderPaymentKeys", "ProviderScriptSession"]


class ProviderIssuer(Issuer):
    """An issuer whose master keys (``master`` for cryptograms, ``smi`` and ``smc`` for
    scripts, by name) a provider holds."""

    def __init__(self, provider: KeyProvider, *, master: str = "emv_ac", smi: str = "emv_smi",
                 smc: str = "emv_smc", **options: Any) -> None:
        super().__init__(None, **options)
        self._provider = provider
        self._master_name = master
        self._script_names = (smi, smc)
        #: the AC session key of the request this thread is answering (see :meth:`authorise`)
        self._answering = threading.local()

    def __repr__(self) -> str:
        return f"ProviderIssuer({self._provider!r}, {self._master_name})"

    def _master(self, version: CryptogramVersion, name: str | None = None) -> HeldKey:
        return self._provider.key(name or self._master_name, version.algorithm)

    def authorise(self, request: AuthorisationRequest, **options: Any) -> AuthorisationResponse:
        """:meth:`Issuer.authorise`, the ARQC's session key derived once for its check and
        its ARPC, and destroyed when the answer is made."""
        with ExitStack() as keys:
            self._answering.keys = (request, keys, {})
            try:
                return super().authorise(request, **options)
            finally:
                self._answering.keys = None
        raise AssertionError("unreachable")  # pragma: no cover

    @contextmanager
    def _session_key(self, version: CryptogramVersion, request: AuthorisationRequest,
                     atc: int) -> Iterator[MacKey]:
        """The card's AC session key at ``atc``: the one of the request being answered
        (kept until its answer is made), else derived for this call only."""
        answering = getattr(self._answering, "keys", None)
        if answering is not None and answering[0] is request:
            _, keys, made = answering
            if (version.cvn, atc) not in made:
                made[version.cvn, atc] = keys.enter_context(
                    self._derived_session_key(version, request, atc))
            yield made[version.cvn, atc]
            return
        with self._derived_session_key(version, request, atc) as sk:
            yield sk

    @contextmanager
    def _derived_session_key(self, version: CryptogramVersion, request: AuthorisationRequest,
                             atc: int) -> Iterator[MacKey]:
        provider = self._provider
        with icc_master_key(provider, self._master(version), request.pan, request.psn,
                            version.option) as mk, ac_session_key(provider, mk, atc) as sk:
            yield sk

    def _verify_cryptogram(self, version: CryptogramVersion, request: AuthorisationRequest,
                           atc: int, data: bytes, cryptogram: bytes) -> None:
        with self._session_key(version, request, atc) as sk:
            expected = cryptogram_under(self._provider, sk, data)
        if not hmac.compare_digest(expected, cryptogram):
            raise CryptogramError("application cryptogram does not verify")

    def _authentication(self, version: CryptogramVersion, request: AuthorisationRequest,
                        method: ARPCMethod, arc: bytes, csu: CardStatusUpdate | None
                        ) -> IssuerAuthenticationData:
        provider = self._provider
        with self._session_key(version, request, request.atc) as sk:
            if method is ARPCMethod.METHOD_1:
                arpc = arpc_method1_under(provider, sk.key, request.arqc, arc)
                return IssuerAuthenticationData(method, arpc, arc=arc)
            if csu is None:
                raise HSMUnsupportedError("ARPC method 2 needs a card status update")
            arpc = arpc_method2_under(provider, sk, request.arqc, csu.encode())
            return IssuerAuthenticationData(method, arpc, csu=csu)

    def script_session(self, request: AuthorisationRequest) -> ProviderScriptSession:
        """SK-SMI and SK-SMC of this ARQC, derived in the provider (the ICC master keys
        destroyed as soon as the session keys exist)."""
        version, _ = self._version_and_iad(request)
        provider, (smi, smc) = self._provider, self._script_names
        with ExitStack() as stack:
            with icc_master_key(provider, self._master(version, smi), request.pan, request.psn,
                                version.option) as mk:
                sk_smi = stack.enter_context(sm_mac_key(provider, mk, request.arqc))
            with icc_master_key(provider, self._master(version, smc), request.pan, request.psn,
                                version.option) as mk:
                sk_smc = stack.enter_context(sm_enc_key(provider, mk, request.arqc))
            return ProviderScriptSession(version, request.atc, request.arqc, provider,
                                         (sk_smi, sk_smc), stack.pop_all())
        raise AssertionError("unreachable")  # pragma: no cover


class ProviderScriptSession(ScriptKeying):
    """A script session whose SK-SMI and SK-SMC a provider holds; :meth:`close` destroys
    them."""

    def __init__(self, version: CryptogramVersion, atc: int, arqc: bytes, provider: KeyProvider,
                 keys: tuple[MacKey, HeldKey], owned: ExitStack) -> None:
        self.version = version
        self.atc = atc
        self.arqc = bytes(arqc)
        self._provider = provider
        self._smi, self._smc = keys
        self._owned = owned

    def __repr__(self) -> str:
        return f"ProviderScriptSession(CVN {self.version.cvn:02X}, ATC {self.atc:04X})"

    def mac(self, header: bytes, data: bytes) -> bytes:
        message = self.version.script_mac_input(header, self.atc, self.arqc, data)
        return script_mac_under(self._provider, self._smi, message)

    def encipher(self, plaintext: bytes) -> bytes:
        return encipher_under(self._provider, self._smc, self.version.encipher_input(plaintext))

    def close(self) -> None:
        self._owned.close()


@dataclass(frozen=True)
class ProviderPaymentKeys:
    """The chip-1 issuer's keys in a provider, by name: what the service host needs of the
    payment key file. The stripe's CVV and an online PIN's PVV are computed there too
    (:class:`~.card_checks.ProviderCardChecks`; the CVK's left half beside the CVK)."""

    provider: KeyProvider
    ac: str = "emv_ac"
    smi: str = "emv_smi"
    smc: str = "emv_smc"
    cvk: str = "cvk"
    pvk: str = "pvk"

    def check(self) -> None:
        """Every key named is there (a typed error otherwise): checked at start-up, not at
        the first request."""
        for name in (self.ac, self.smi, self.smc):
            self.provider.key(name)
        self.checks  # noqa: B018 (the CVK, its left half and the PVK, looked up now)

    @cached_property
    def checks(self) -> ProviderCardChecks:
        """The CVV and PVV in the provider (its keys looked up once)."""
        return ProviderCardChecks.of(self.provider, self.cvk, self.pvk)

    def issuer(self, **options: Any) -> ProviderIssuer:
        return ProviderIssuer(self.provider, master=self.ac, smi=self.smi, smc=self.smc,
                              **options)

    def stripe_refusal(self, track2: str) -> str | None:
        """Why a swiped track is declined: its CVV does not verify under the CVK."""
        return stripe_refusal(track2, self.checks)

    def pvv(self, pan: str, pvki: str, pin: str) -> str:
        """The card's PIN verification value for ``pin``, encrypted under the PVK in the
        provider (the clear PIN is the caller's, as with a key file)."""
        return self.checks.pvv(pan, pvki, pin)
