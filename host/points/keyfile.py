"""The issuer key file the CLI reads (``--keys FILE`` or ``$DUALCARD_POINTS_KEYS``).

Keys never travel on the command line. The file is JSON::

    {"format": "dualcard-points-keys/1", "algorithm": "AES", "key_index": 1,
     "key_version": 1, "load_master": "<32 hex>", "purchase_master": "<32 hex>",
     "tac_master": "<32 hex>"}

``algorithm`` is AES, SM4 or 3DES. Keep the file readable by its operator only.
"""

from __future__ import annotations

import os
from typing import Any

from apdu_specs.crypto.errors import CryptoError
from apdu_specs.crypto.suite import suite_named
from apdu_specs.errors import HexError
from apdu_specs.hexutil import parse_hex

from ..files import read_json
from .errors import PointsUsageError
from .keys import PurseIssuerKeys

__all__ = ["KEYFILE_FORMAT", "issuer_keys_from_dict", "issuer_keys_to_dict", "load_issuer_keys"]

KEYFILE_FORMAT = "dualcard-points-keys/1"
_MASTERS = ("load_master", "purchase_master", "tac_master")


def issuer_keys_from_dict(data: Any) -> PurseIssuerKeys:
    if not isinstance(data, dict) or data.get("format") != KEYFILE_FORMAT:
        raise PointsUsageError(f"not a points key file (format must be {KEYFILE_FORMAT!r})")
    try:
        algorithm = suite_named(str(data.get("algorithm", "AES"))).algorithm
        masters = {name: parse_hex(str(data[name]), what=name) for name in _MASTERS}
        index, version = data.get("key_index", 1), data.get("key_version", 1)
    except KeyError as exc:
        raise PointsUsageError(f"points key file lacks {exc.args[0]}") from None
    except (CryptoError, HexError) as exc:
        raise PointsUsageError(f"points key file: {exc}") from None
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (index, version)):
        raise PointsUsageError("points key file: key_index and key_version must be integers")
    return PurseIssuerKeys(algorithm, key_index=index, key_version=version, **masters)


def issuer_keys_to_dict(keys: PurseIssuerKeys) -> dict[str, Any]:
    algorithm = "3DES" if keys.algorithm.value == "TDES" else keys.algorithm.value
    return {"format": KEYFILE_FORMAT, "algorithm": algorithm, "key_index": keys.key_index,
            "key_version": keys.key_version,
            **{name: getattr(keys, name).hex().upper() for name in _MASTERS}}


def load_issuer_keys(path: str | os.PathLike[str]) -> PurseIssuerKeys:
    return issuer_keys_from_dict(read_json(path))
