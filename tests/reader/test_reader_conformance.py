"""The conformance suite's cases for the binding commands (generated from their specs) pass on
the sample card, unbound and bound: examples answered with a declared status word, the
negative cases refused as the specs say."""

from __future__ import annotations

import pytest

from apdu_specs.commands import get
from host.qa.conformance import CaseKind, ConformanceSuite, Outcome
from host.reader import BindingClient, bind
from host.testing import simulated_link
from host.transport.t0 import T0Transport

from .helpers import AID, ISSUER, reader

BINDING = [get(f"payment:{name}") for name in
           ("BIND READER", "UNBIND READER", "READER AUTHENTICATE", "READER CONFIRM")]
BINDING.append(get("iso7816:GET CHALLENGE"))

pytestmark = pytest.mark.sim


@pytest.mark.parametrize("bound", [False, True])
def test_binding_commands_pass_their_conformance_cases(dualcard_template, bound: bool) -> None:
    card = dualcard_template.fork()
    link = simulated_link(card)
    if bound:
        bind(BindingClient(T0Transport(link.transports[1])), AID, ISSUER, reader())
    result = ConformanceSuite(link.transports, specs=BINDING).run()
    assert not result.failures(), [(r.case.title, r.detail) for r in result.failures()]
    ran = {(r.case.command_name, r.case.kind) for r in result.results if r.outcome is Outcome.PASS}
    for spec in BINDING:
        assert (spec.key, CaseKind.EXAMPLE) in ran, spec.key
    assert ("payment:BIND READER", CaseKind.SECURITY) in ran
