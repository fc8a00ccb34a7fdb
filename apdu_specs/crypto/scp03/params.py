"""SCP03 protocol parameters: security level, the "i" parameter and the S8/S16 mode.

Security levels are the P1 of EXTERNAL AUTHENTICATE (GPC 2.3 Amendment D §7.1.2).
The values accepted here are 00, 01, 03, 11, 13 and 33: command decryption needs a
C-MAC, an R-MAC needs a C-MAC (the MAC chaining value), and R-ENCRYPTION is only
accepted together with C-DECRYPTION and R-MAC (33), as GlobalPlatformPro enforces.
"""

from __future__ import annotations

from enum import IntEnum, IntFlag

from apdu_specs.crypto.errors import SecurityLevelError

__all__ = ["SCP03_SECURITY_LEVELS", "IParameter", "SCP03Mode", "SecurityLevel"]


class SecurityLevel(IntFlag):
    """Protection applied after EXTERNAL AUTHENTICATE; the bits of its P1."""

    NO_SECURE_MESSAGING = 0x00
    C_MAC = 0x01
    C_DECRYPTION = 0x02
    R_MAC = 0x10
    R_ENCRYPTION = 0x20

    @classmethod
    def parse(cls, p1: int, allowed: frozenset[int] | None = None) -> SecurityLevel:
        """The level coded in ``p1``; raise :class:`SecurityLevelError` unless it is allowed."""
        allowed = SCP03_SECURITY_LEVELS if allowed is None else allowed
        if p1 not in allowed:
            values = ", ".join(f"{v:02X}" for v in sorted(allowed))
            raise SecurityLevelError(f"security level {p1:02X} is not one of {values}")
        return cls(p1)


SCP03_SECURITY_LEVELS = frozenset({0x00, 0x01, 0x03, 0x11, 0x13, 0x33})


class IParameter(IntFlag):
    """Bits of the SCP03 "i" parameter announced in the INITIALIZE UPDATE response."""

    S16 = 0x01
    PSEUDO_RANDOM_CHALLENGE = 0x10
    R_MAC_SUPPORT = 0x20
    R_ENC_SUPPORT = 0x40


class SCP03Mode(IntEnum):
    """Length in bytes of challenges, cryptograms and MACs: S8 or S16 mode."""

    S8 = 8
    S16 = 16

    @classmethod
    def of(cls, i_parameter: int) -> SCP03Mode:
        """The mode that ``i_parameter`` announces."""
        return cls.S16 if i_parameter & _S16_BIT else cls.S8


_S16_BIT = IParameter.S16.value  # a plain int: IntFlag arithmetic is slow on a hot path
