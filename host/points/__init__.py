"""Host side of chip 2's points purse (mission F2, F4, F5).

- :class:`PointsClient` — the typed client over any transport (select, balances, load,
  purchase, transaction proof, log);
- :class:`LoadHost` — the points issuer: checks MAC1, answers MAC2, verifies the TAC;
- :class:`PurchaseSecurityModule` — the terminal's PSAM interface, and
  :class:`SoftwarePurchaseSAM`, its software implementation;
- :func:`verify_tac` — the back office's check of a :class:`PurseRecord`;
- :mod:`.keys` — per-card key diversification; :mod:`.perso` — personalisation DGIs.
"""

from __future__ import annotations

from host._lazy import lazy_exports

__all__ = [
    "FixedCardKeys",
    "KeyMismatchError",
    "LoadAuthorization",
    "LoadHost",
    "LoadInit",
    "PendingPurchase",
    "PointsClient",
    "PointsError",
    "PointsUsageError",
    "PurchaseAuthorization",
    "PurchaseInit",
    "PurchaseSecurityModule",
    "Purse",
    "PurseApplication",
    "PurseCardKeys",
    "PurseDataError",
    "PurseIssuerKeys",
    "PurseKeySource",
    "PurseMACError",
    "PurseProfile",
    "PurseRecord",
    "SoftwarePurchaseSAM",
    "TransactionInterrupted",
    "TransactionProof",
    "TransactionType",
    "WrongPINError",
    "diversification_data",
    "diversify_purse_key",
    "expected_tac",
    "purse_perso_dgis",
    "verify_tac",
]

__getattr__, __dir__ = lazy_exports(__name__, {
    "apdu_specs.commands.purse_data": ("Purse", "TransactionType"),
    ".client": ("PendingPurchase", "PointsClient"),
    ".errors": (
        "KeyMismatchError", "PointsError", "PointsUsageError", "PurseDataError",
        "PurseMACError", "TransactionInterrupted", "WrongPINError",
    ),
    ".keys": (
        "FixedCardKeys", "PurseCardKeys", "PurseIssuerKeys", "PurseKeySource",
        "diversification_data", "diversify_purse_key",
    ),
    ".load_host": ("LoadAuthorization", "LoadHost"),
    ".messages": ("LoadInit", "PurchaseInit", "PurseApplication", "TransactionProof"),
    ".perso": ("PurseProfile", "purse_perso_dgis"),
    ".records": ("PurseRecord", "expected_tac", "verify_tac"),
    ".security_module": ("PurchaseAuthorization", "PurchaseSecurityModule", "SoftwarePurchaseSAM"),
})
