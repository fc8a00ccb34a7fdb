"""The malformed-input campaign (:mod:`host.qa.host_fuzz`) against ``dualcard host serve``
in its own process: a few thousand malformed frames and HTTP requests over real sockets,
a genuine request every few dozen. None crashes the service: each case is answered with
a refusal or its connection closed, and every genuine request is answered."""

from __future__ import annotations

from pathlib import Path

import pytest

from host.qa.host_fuzz import http_outcome, iso_outcomes, run_campaign, sample_host
from host.service.iso8583 import ResponseCode, encode, frame
from host.service.messages import answer

pytestmark = [pytest.mark.sim, pytest.mark.slow]

CASES = 2_000


def test_thousands_of_malformed_frames_and_bodies_crash_nothing(tmp_path: Path) -> None:
    with sample_host(tmp_path) as target:
        tally = run_campaign(target, frames=CASES, bodies=CASES, every=40, seed=16)
    assert tally.crashes == 0, tally.report()
    assert tally.genuine["ok"] == 2 * CASES // 40 + 2
    assert sum(tally.iso.values()) >= CASES and sum(tally.http.values()) == CASES
    # the cases reach past the framing: refusals of decoded, authenticated messages, and
    # of signed HTTP bodies by their fields
    assert {"closed", "rc 30", "rc 63"} <= set(tally.iso), tally.report()
    assert {"400", "401", "422"} <= set(tally.http), tally.report()


def test_answers_are_read_as_codes_or_a_closed_connection() -> None:
    refusal = encode(answer({"t": "0800", "11": "000001"}, ResponseCode.FORMAT_ERROR))
    assert iso_outcomes(frame(refusal) * 2) == ["rc 30", "rc 30"]
    assert iso_outcomes(b"") == ["closed"]
    assert iso_outcomes(frame(b"0810")) == ["garbage back"]
    assert iso_outcomes(frame(refusal)[:-1]) == ["garbage back"]
    assert http_outcome(b"HTTP/1.1 422 Unprocessable Entity\r\n\r\n") == "422"
    assert http_outcome(b"") == "closed" and http_outcome(b"\x00junk") == "garbage back"
