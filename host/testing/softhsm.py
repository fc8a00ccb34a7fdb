"""A fresh SoftHSM2 token in a directory of its own, for tests, the guides and the bench.

SoftHSM2 finds its tokens through the file ``$SOFTHSM2_CONF`` names; :func:`fresh_token`
writes one pointing at ``directory`` and sets the variable, so every test gets an empty
token and no test sees another's keys. Without SoftHSM2 the test is skipped — or fails under
``CI=true``, where CI installs it (scripts/install-sysdeps.sh).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from host.hsm.uri import PKCS11URI

from .pcscd import skip_or_fail

__all__ = ["SO_PIN", "USER_PIN", "fresh_token", "require_softhsm", "session_object",
           "softhsm_module"]

USER_PIN = "123456"
SO_PIN = "87654321"
_MODULES = ("/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so")


def softhsm_module() -> str | None:
    """The SoftHSM2 PKCS#11 module on this machine, if it is installed with its tool."""
    if shutil.which("softhsm2-util") is None:
        return None
    return next((path for path in _MODULES if Path(path).exists()), None)


def require_softhsm() -> str:
    """For tests: the module path, or fail (under CI=true) / skip."""
    module = softhsm_module()
    if module is None:
        skip_or_fail("softhsm2 is not installed (scripts/install-sysdeps.sh)")
    try:
        import pkcs11  # noqa: F401
    except ImportError:
        skip_or_fail("python-pkcs11 is not installed (pip install dualcard[hsm])")
    return module


def fresh_token(directory: Path, label: str = "dualcard-test") -> PKCS11URI:
    """Initialise an empty token ``label`` under ``directory`` (PINs :data:`USER_PIN`,
    :data:`SO_PIN`) and point ``$SOFTHSM2_CONF`` and ``$DUALCARD_PKCS11_MODULE`` at it."""
    from host.hsm.ceremony import init_softhsm_token
    from host.hsm.token import reload_module

    module = require_softhsm()
    tokens = directory / "tokens"
    tokens.mkdir(parents=True, exist_ok=True)
    conf = directory / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\n"
                    "log.level = ERROR\nslots.removable = false\n")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    os.environ["DUALCARD_PKCS11_MODULE"] = module
    init_softhsm_token(label, SO_PIN, USER_PIN, module)
    reload_module(module)
    return PKCS11URI(label, module_path=module)


def session_object(provider: Any, key: Any) -> Any:
    """python-pkcs11's object of a session key a token provider made (the provider holds its
    handle only), to read its attributes in a test."""
    from pkcs11 import Attribute

    return next(o for o in provider.session.get_objects({Attribute.TOKEN: False})
                if o.handle == key.handle.handle)
