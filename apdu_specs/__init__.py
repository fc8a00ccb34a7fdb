"""dualcard: the protocol layer (specs, codecs, cryptography) every other package uses.

:func:`clear_caches` empties every module-level cache of the project (see
:mod:`apdu_specs.caches`).
"""

from apdu_specs.caches import clear_caches

__all__ = ["clear_caches"]
