"""A card's check values computed where the issuer's CVK and PVK are (a key provider).

:class:`ProviderCardChecks` is the :class:`~host.payment.keys.CardChecks` of a provider: the
CVV and iCVV a personalisation writes on the stripe and in tag 57, the PVV of the PIN; and
the same values the service host checks a swiped track's CVV and an online PIN against. The
key file's :class:`~host.payment.keys.IssuerKeys` computes them in this process; here the
keys stay in the provider:

- a CVV is ISO/IEC 9797-1 MAC algorithm 3 over two blocks (:func:`.schemes.retail_mac`),
  which starts with single DES under the CVK's left half (:meth:`.KeyProvider.left_half`:
  in a token, the companion object the key ceremony writes beside the CVK);
- a PVV is 3DES-ECB of the transformed security parameter under the PVK.
"""

from __future__ import annotations

from dataclasses import dataclass

from apdu_specs.crypto.ciphers import Algorithm
from apdu_specs.crypto.cvv import cvv_blocks, decimalise, pvv_tsp
from apdu_specs.crypto.padding import Padding

from .provider import HeldKey, KeyProvider
from .schemes import MacKey, retail_mac

__all__ = ["ProviderCardChecks"]


@dataclass(frozen=True)
class ProviderCardChecks:
    """CVV, iCVV and PVV computed by ``provider`` with its CVK (and left half) and PVK."""

    provider: KeyProvider
    cvk: HeldKey
    cvk_left: HeldKey
    pvk: HeldKey

    @classmethod
    def of(cls, provider: KeyProvider, cvk: str = "cvk", pvk: str = "pvk"
           ) -> ProviderCardChecks:
        """The checks with the masters ``cvk`` and ``pvk`` (both 3DES); a typed error naming
        the first that is missing, the CVK's left half included."""
        return cls(provider, provider.key(cvk, Algorithm.TDES), provider.left_half(cvk),
                   provider.key(pvk, Algorithm.TDES))

    def cvv(self, pan: str, expiry: str, service_code: str) -> str:
        mac = retail_mac(self.provider, MacKey(self.cvk, self.cvk_left),
                         cvv_blocks(pan, expiry, service_code), Padding.METHOD_1)
        return decimalise(mac, 3)

    def pvv(self, pan: str, pvki: str, pin: str) -> str:
        return decimalise(self.provider.encrypt_ecb(self.pvk, pvv_tsp(pan, pvki, pin)), 4)
