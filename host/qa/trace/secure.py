"""GlobalPlatform secure channels seen from a trace: find their keys, undo their protection.

Theory of operation
-------------------
A trace holds both halves of the handshake: INITIALIZE UPDATE carries the host challenge,
its answer the card's KDD, key version, SCP and challenge. With key specs given (as
``--keys`` takes them: ``default``, ``kdf3:file:issuer.json``, …) every spec is tried:
the card's static keys are derived from it (diversified with the KDD if the spec says so,
AES or SM4 for SCP03, 3DES for SCP02) and the card cryptogram tells which spec is right.
EXTERNAL AUTHENTICATE is then rebuilt with those keys and compared with the traced one,
which proves the host cryptogram and the C-MAC and gives the session (its MAC chaining
value or ICV, its counter) exactly as host and card held it. From there each protected
command is unwrapped as the card did it (C-MAC verified, data decrypted) and each answer
as the host did it (R-MAC, R-ENC), in trace order, which keeps the session in step.

A session ends where the card's ends: at the next INITIALIZE UPDATE or successful SELECT
on the channel, at a reset, or when a MAC does not verify. A command the trace redacted
(PUT KEY) leaves the MAC chain unknown: the commands after it in that session are named
and their headers decoded, their data stays as it was sent. Without keys (or with keys
that do not fit) the protected commands are named the same way and their data is shown
as data and C-MAC.

Keys never leave this module: notes name the key spec and the card keys' KCVs only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from apdu_specs.apdu import CLA
from apdu_specs.crypto.ciphers import Algorithm
from apdu_specs.crypto.errors import CryptoError, FormatError
from apdu_specs.crypto.scp02 import SCP02HostHandshake, SCP02InitializeUpdateResponse
from apdu_specs.crypto.scp03 import HostHandshake, InitializeUpdateResponse, SCP03Mode
from apdu_specs.crypto.secure_messaging import (
    SecureMessagingSession,
    has_secure_messaging,
    is_protected_status,
)
from host.gp.errors import KeySpecError
from host.gp.keyspec import KeySpec

__all__ = ["ChannelObserver", "Protection", "level_name"]

_SCP02, _SCP03 = 0x02, 0x03
_LEVEL_BITS = ((0x01, "C-MAC"), (0x02, "C-DECRYPTION"), (0x10, "R-MAC"), (0x20, "R-ENCRYPTION"))
_ALGORITHMS = {_SCP02: (Algorithm.TDES,), _SCP03: (Algorithm.AES, Algorithm.SM4)}


def level_name(level: int) -> str:
    """``C-MAC + C-DECRYPTION`` for 03, ``no protection`` for 00."""
    return " + ".join(name for bit, name in _LEVEL_BITS if level & bit) or "no protection"


@dataclass(frozen=True)
class Protection:
    """What secure messaging did to one command (or answer) and what could be undone.

    ``plain`` is the command APDU (or answer) without its protection, None when it could
    not be recovered; ``body`` and ``mac`` split the data field as it was sent.
    """

    scp: str
    level: int
    note: str
    plain: bytes | None = None
    body: bytes = b""
    mac: bytes = b""

    @property
    def unwrapped(self) -> bool:
        return self.plain is not None


@dataclass
class _Candidate:
    handshake: Any  # HostHandshake or SCP02HostHandshake, card cryptogram checked
    label: str


@dataclass
class _Handshake:
    line: int
    scp: int
    mac_length: int
    candidates: list[_Candidate] = field(default_factory=list)


@dataclass
class _Session:
    scp: int
    level: int
    mac_length: int
    #: the sessions the handshake allows (SCP02 with and without ICV encryption authenticate
    #: alike): the first protected command keeps the one it unwraps with
    sessions: list[SecureMessagingSession]
    #: why the session's protection can no longer be undone (None: it can, with keys)
    lost: str | None = None

    @property
    def name(self) -> str:
        return f"SCP{self.scp:02X}"


class ChannelObserver:
    """Follows the GP secure channels of one chip, channel by channel."""

    def __init__(self, keys: Sequence[KeySpec] = ()) -> None:
        self._keys = tuple(keys)
        self._handshakes: dict[int, _Handshake] = {}
        self._sessions: dict[int, _Session] = {}

    def reset(self) -> None:
        """The chip was reset or reconnected: every session is gone."""
        self._handshakes.clear()
        self._sessions.clear()

    # --- the handshake ----------------------------------------------------------------------

    def initialize_update(self, line: int, command: bytes, response: bytes) -> str:
        """Note an answered INITIALIZE UPDATE; which keys (if any) fit the card's cryptogram."""
        channel = _channel(command[0])
        self._sessions.pop(channel, None)
        self._handshakes.pop(channel, None)
        data, sw = response[:-2], response[-2:]
        if sw != b"\x90\x00":
            return "no session (refused)"
        scp = data[11] if len(data) > 11 else None
        try:
            parsed, mac_length = _parse_response(scp, data)
        except CryptoError as exc:
            return f"answer not understood: {exc}"
        handshake = _Handshake(line, scp or 0, mac_length)
        self._handshakes[channel] = handshake
        host_challenge = command[5:5 + command[4]] if len(command) > 5 else b""
        for spec in self._keys:
            handshake.candidates += _candidates(spec, scp or 0, parsed, command, host_challenge)
        return _handshake_note(handshake, parsed, bool(self._keys))

    def external_authenticate(self, command: bytes, response: bytes) -> str:
        """Note an answered EXTERNAL AUTHENTICATE: the session it opens, proven if keys fit."""
        channel = _channel(command[0])
        handshake = self._handshakes.pop(channel, None)
        if handshake is None:
            return "no INITIALIZE UPDATE before it in the trace"
        if response[-2:] != b"\x90\x00":
            return "refused: no session"
        level = command[2]
        sessions = [session for candidate in handshake.candidates
                    for expected, session in _authentications(candidate.handshake, level)
                    if expected == command]
        lost = None if sessions else ("no keys given" if not self._keys else
                                      "none of the given keys opened this session")
        self._sessions[channel] = _Session(handshake.scp, level, handshake.mac_length, sessions,
                                           lost)
        opened = f"SCP{handshake.scp:02X} session open at {level_name(level)}"
        return f"host cryptogram and C-MAC verified; {opened}" if sessions else opened

    def selected(self, cla: int) -> None:
        """A successful SELECT on the channel of ``cla`` ends its session."""
        self._sessions.pop(_channel(cla), None)

    # --- protected commands -----------------------------------------------------------------

    def protects(self, cla: int) -> bool:
        """Whether a command with ``cla`` is protected by a session open on its channel."""
        return has_secure_messaging(cla) and _channel(cla) in self._sessions

    def command(self, command: bytes | None, header: bytes, line: int) -> Protection:
        """Undo the protection of a command :meth:`protects` (``command`` None: redacted)."""
        state = self._sessions[_channel(header[0])]
        if command is None:
            if state.lost is None:
                state.lost = f"the MAC chain was lost at the redacted command on line {line}"
            return Protection(state.name, state.level, "data redacted in the trace")
        body, mac = _split_mac(command, state.mac_length)
        if state.lost is not None:
            return Protection(state.name, state.level, f"wrapped ({state.lost})", None, body, mac)
        failure: CryptoError | None = None
        for session in state.sessions:
            try:
                plain = session.unwrap_command(command)
            except CryptoError as exc:
                failure = exc
                continue
            state.sessions = [session]
            done = "C-MAC verified" + (", data decrypted" if state.level & 0x02 and body else "")
            return Protection(state.name, state.level, done, plain, body, mac)
        state.lost = f"a MAC did not verify on line {line}"
        return Protection(state.name, state.level, f"does not unwrap: {failure}", None, body, mac)

    def response(self, cla: int, response: bytes) -> Protection | None:
        """Undo the protection of the answer to a protected command (None: it has none)."""
        state = self._sessions.get(_channel(cla))
        if state is None or not state.level & 0x10 or len(response) < 2:
            return None
        sw = int.from_bytes(response[-2:], "big")
        if not is_protected_status(sw):
            return None
        body, mac = response[:-2 - state.mac_length], response[-2 - state.mac_length:-2]
        if state.lost is not None:
            return Protection(state.name, state.level, f"wrapped ({state.lost})", None, body, mac)
        try:
            plain = state.sessions[0].unwrap_response(response)
        except CryptoError as exc:
            state.lost = "an R-MAC did not verify"
            return Protection(state.name, state.level, f"does not unwrap: {exc}", None, body, mac)
        done = "R-MAC verified" + (", data decrypted" if state.level & 0x20 and body else "")
        return Protection(state.name, state.level, done, plain, body, mac)


def _channel(cla: int) -> int:
    return CLA.decode(cla).channel if cla != 0xFF else 0


def _split_mac(command: bytes, mac_length: int) -> tuple[bytes, bytes]:
    data = command[5:5 + command[4]] if len(command) > 5 else b""
    return data[:-mac_length], data[-mac_length:]


def _parse_response(scp: int | None, data: bytes) -> tuple[Any, int]:
    """The parsed INITIALIZE UPDATE answer and the length of the session's MACs."""
    if scp == _SCP03:
        parsed = InitializeUpdateResponse.parse(data)
        return parsed, int(parsed.mode)
    if scp == _SCP02:
        return SCP02InitializeUpdateResponse.parse(data), 8
    raise FormatError(f"SCP{scp:02X} is not SCP02 or SCP03" if scp is not None
                      else f"{len(data)} bytes name no SCP")


def _candidates(spec: KeySpec, scp: int, parsed: Any, command: bytes,
                host_challenge: bytes) -> list[_Candidate]:
    """The handshakes with ``spec``'s keys whose card cryptogram matches the card's."""
    found = []
    for algorithm in _ALGORITHMS[scp]:
        try:
            static = spec.card_keys(parsed.kdd, algorithm)
        except (KeySpecError, CryptoError):
            continue
        label = f"{spec.text} (card keys KCV {'/'.join(k.hex().upper() for k in static.kcvs())})"
        for handshake in _handshakes(scp, static, command, host_challenge):
            try:
                if scp == _SCP03:
                    handshake.check_response(parsed)
                else:
                    handshake.process_initialize_update_response(parsed.encode())
            except CryptoError:
                continue
            found.append(_Candidate(handshake, label))
    return found


def _handshakes(scp: int, static: Any, command: bytes, host_challenge: bytes) -> list[Any]:
    cla, kvn = command[0], command[2]
    try:
        if scp == _SCP03:
            return [HostHandshake(static, kvn=kvn, mode=SCP03Mode(len(host_challenge)),
                                  host_challenge=host_challenge, cla=cla)]
        return [SCP02HostHandshake(static, kvn=kvn, host_challenge=host_challenge, cla=cla,
                                   icv_encryption=icv) for icv in (True, False)]
    except (CryptoError, ValueError):
        return []


def _authentications(handshake: Any, level: int) -> list[tuple[bytes, SecureMessagingSession]]:
    try:
        return [handshake.external_authenticate(level)]
    except CryptoError:
        return []


def _handshake_note(handshake: _Handshake, parsed: Any, with_keys: bool) -> str:
    mode = f", S{handshake.mac_length}" if handshake.scp == _SCP03 else ""
    head = f"SCP{handshake.scp:02X}{mode}, key version {parsed.kvn:02X}"
    if not with_keys:
        return head
    if not handshake.candidates:
        return f"{head}; the card cryptogram matches none of the given keys"
    return f"{head}; card cryptogram verified with keys {handshake.candidates[0].label}"
