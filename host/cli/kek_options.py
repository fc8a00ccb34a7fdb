"""``--kek-file``: the key-encryption key the service's stored terminal keys and webhook
secrets are wrapped under (:mod:`host.service.kek`), from a file or ``$DUALCARD_KEK``,
never from the command line (where other users of the machine could see it)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from host.backoffice.database import Database
from host.service.kek import KEK_ENV, KeyVault, read_kek
from host.service.wrap_keys import open_vault

__all__ = ["kek_option", "vault_of"]


def kek_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--kek-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
        default=None,
        help=f"file holding the key-encryption key (hex, AES) the terminals' keys and the "
             f"webhook secrets are wrapped under (default: ${KEK_ENV}; neither: they are "
             f"in clear)")(fn)


def vault_of(db: Database, kek_file: Path | None) -> KeyVault:
    """The vault of ``db``'s keys under the KEK given (checked against the database's)."""
    return open_vault(db, read_kek(kek_file))
