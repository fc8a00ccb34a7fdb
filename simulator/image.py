"""Card images: a whole dual-chip card (both chips' memory, the stripe) in one JSON file.

Versioned so that QA can keep personalised virtual cards across releases; a
file of an unknown format or version is refused with a clear error, and writes
go through a temporary file so a crash never leaves half an image.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from apdu_specs.documents import MAX_BYTES, DocumentError, json_document
from apdu_specs.errors import LocalError
from cardlib.card import DualChipCard, StripeData
from cardlib.chip import Chip
from cardlib.memory import Value

__all__ = ["IMAGE_FORMAT", "IMAGE_VERSION", "ImageError", "card_from_dict", "card_to_dict",
           "load_image", "save_image"]

IMAGE_FORMAT = "dualcard-card-image"
IMAGE_VERSION = 1


class ImageError(LocalError, ValueError):
    """A card image file that cannot be read back."""


def _encode(value: Value) -> Any:
    if isinstance(value, bytes):
        return {"hex": value.hex().upper()}
    if isinstance(value, tuple):
        return [_encode(v) for v in value]
    return value


def _decode(value: Any) -> Value:
    if isinstance(value, dict):
        if set(value) != {"hex"}:
            raise ImageError(f"unexpected object in image: {sorted(value)}")
        return bytes.fromhex(value["hex"])
    if isinstance(value, list):
        return tuple(_decode(v) for v in value)
    return value


def card_to_dict(card: DualChipCard) -> dict[str, Any]:
    return {
        "format": IMAGE_FORMAT,
        "version": IMAGE_VERSION,
        "identity": card.identity,
        "chips": {role: {k: _encode(v) for k, v in sorted(chip.snapshot().items())}
                  for role, chip in card.chips().items()},
        "stripe": {"track1": card.stripe.track1, "track2": card.stripe.track2},
    }


def card_from_dict(data: dict[str, Any]) -> DualChipCard:
    if data.get("format") != IMAGE_FORMAT:
        raise ImageError(f"not a dualcard card image (format {data.get('format')!r})")
    if data.get("version") != IMAGE_VERSION:
        raise ImageError(f"card image version {data.get('version')!r} is not supported "
                         f"(this dualcard reads version {IMAGE_VERSION})")
    try:
        chips = {role: Chip(role) for role in ("chip1", "chip2")}
        for role, chip in chips.items():
            chip.load({k: _decode(v) for k, v in data["chips"][role].items()})
        stripe = StripeData(**data.get("stripe", {}))
        return DualChipCard(str(data["identity"]), chips["chip1"], chips["chip2"], stripe)
    except (KeyError, TypeError, ValueError) as exc:
        raise ImageError(f"damaged card image: {exc}") from None


def save_image(card: DualChipCard, path: str | os.PathLike[str]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(card_to_dict(card), fh, indent=1)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_image(path: str | os.PathLike[str]) -> DualChipCard:
    """The card in the image file at ``path``; file defects raise
    :class:`~apdu_specs.documents.DocumentError`, a damaged image :class:`ImageError`."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise DocumentError(str(path), f"cannot read: {exc.strerror or exc}") from None
    return card_from_dict(json_document(data, str(path), expect=dict))
