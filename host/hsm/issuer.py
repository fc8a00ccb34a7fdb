"""The chip-1 issuer's online authorisation with its AC master key in a key provider: the
ARQC (and the second cryptogram) verified and the ARPC computed where the key is.

:class:`ProviderIssuer` is a :class:`~host.payment.issuer.Issuer` (the same policy, facts
and answers) whose two key operations — checking a cryptogram, making tag 91 — go through
:mod:`.schemes`. Issuer scripts need the SMI/SMC session keys in this process and are refused
(docs/hsm.md).
"""

from __future__ import annotations

import hmac
from typing import Any

from apdu_specs.crypto.errors import CryptogramError
from apdu_specs.payment.cryptogram import CryptogramVersion
from apdu_specs.payment.issuer_response import (
    ARPCMethod,
    CardStatusUpdate,
    IssuerAuthenticationData,
)
from host.payment.issuer import AuthorisationRequest, Issuer
from host.payment.scripts import ScriptSession

from .errors import HSMUnsupportedError
from .provider import HeldKey, KeyProvider
from .schemes import (
    ac_session_key,
    arpc_method1_under,
    arpc_method2_under,
    cryptogram_under,
    icc_master_key,
)

__all__ = ["ProviderIssuer"]


class ProviderIssuer(Issuer):
    """An issuer whose AC master key (``master``, by name) a provider holds."""

    def __init__(self, provider: KeyProvider, *, master: str = "emv_ac", **options: Any) -> None:
        super().__init__(None, **options)
        self._provider = provider
        self._master_name = master

    def __repr__(self) -> str:
        return f"ProviderIssuer({self._provider!r}, {self._master_name})"

    def _master(self, version: CryptogramVersion) -> HeldKey:
        return self._provider.key(self._master_name, version.algorithm)

    def _verify_cryptogram(self, version: CryptogramVersion, request: AuthorisationRequest,
                           atc: int, data: bytes, cryptogram: bytes) -> None:
        provider = self._provider
        with icc_master_key(provider, self._master(version), request.pan, request.psn,
                            version.option) as mk, ac_session_key(provider, mk, atc) as sk:
            expected = cryptogram_under(provider, sk, data)
        if not hmac.compare_digest(expected, cryptogram):
            raise CryptogramError("application cryptogram does not verify")

    def _authentication(self, version: CryptogramVersion, request: AuthorisationRequest,
                        method: ARPCMethod, arc: bytes, csu: CardStatusUpdate | None
                        ) -> IssuerAuthenticationData:
        provider = self._provider
        with icc_master_key(provider, self._master(version), request.pan, request.psn,
                            version.option) as mk, \
                ac_session_key(provider, mk, request.atc) as sk:
            if method is ARPCMethod.METHOD_1:
                arpc = arpc_method1_under(provider, sk.key, request.arqc, arc)
                return IssuerAuthenticationData(method, arpc, arc=arc)
            if csu is None:
                raise HSMUnsupportedError("ARPC method 2 needs a card status update")
            arpc = arpc_method2_under(provider, sk, request.arqc, csu.encode())
            return IssuerAuthenticationData(method, arpc, csu=csu)

    def script_session(self, request: AuthorisationRequest) -> ScriptSession:
        raise HSMUnsupportedError("issuer scripts need the script session keys in this "
                                  "process; an issuer with its keys in a token sends none")
