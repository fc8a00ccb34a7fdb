"""AIDs, privileges and test keys of the issuer security domain (ISD).

- ISD instance AID ``A000000151000000``: the AID GlobalPlatform cards commonly give their
  ISD, so off-the-shelf tools find it.
- Load file ``F044435344`` ("F0" + "DCSD") with module ``F04443534401``: dualcard's own
  proprietary-RID AIDs for the ISD code; a real card keeps its ISD in ROM, here it is a
  load file registered with :mod:`cardlib.registry`.
- A blank card ships the well-known GlobalPlatform test key ``40 41 … 4F`` for ENC, MAC and
  DEK under key version ``FF``, the value GP reserves for the initial key set. The first
  PUT KEY that adds a key set removes it (see :mod:`.keystore`).
"""

from __future__ import annotations

from apdu_specs.commands.gp_extra import DEFAULT_ISD_AID, GP_TEST_KEY

__all__ = [
    "INITIAL_KVN",
    "ISD_AID",
    "ISD_LOAD_FILE_AID",
    "ISD_MODULE_AID",
    "ISD_PRIVILEGES",
    "TEST_KEY",
]

ISD_AID = DEFAULT_ISD_AID
ISD_LOAD_FILE_AID = bytes.fromhex("F044435344")
ISD_MODULE_AID = bytes.fromhex("F04443534401")

#: security domain (80) | card lock (10) | card terminate (08) | default selected (04)
#: | CVM management (02) — GPC 2.3 §6.6.1
ISD_PRIVILEGES = bytes([0x9E])

#: GlobalPlatform's published test key (GPPro ``default``)
TEST_KEY = GP_TEST_KEY
INITIAL_KVN = 0xFF
