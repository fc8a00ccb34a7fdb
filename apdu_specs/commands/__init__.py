"""Declarative command specs: importing this package registers all of them."""

from . import binding, globalplatform, gp_extra, iso7816, payment, purse  # noqa: F401  (register on import)
from .registry import all_specs, candidates, get, register
from .spec import CommandSpec, Example, Param, to_plain

__all__ = ["CommandSpec", "Example", "Param", "all_specs", "candidates", "get", "register",
           "to_plain"]
