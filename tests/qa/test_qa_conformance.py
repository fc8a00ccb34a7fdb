"""The conformance suite: generated cases, the simulator passing them, broken cards failing them."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable

import pytest
from click.testing import CliRunner

from apdu_specs.commands import all_specs, get
from apdu_specs.commands.spec import CommandSpec
from apdu_specs.errors import SpecError
from cardlib.applet import APDUContext
from cardlib.registry import LoadFile, register_load_file
from host.cli.qa_cmds import conformance
from host.connect import CardLink
from host.gp import GPClient, parse_key_spec
from host.qa.conformance import (
    APPLICATIONS,
    CaseKind,
    ConformanceSuite,
    Outcome,
    SuiteResult,
    generate_cases,
    junit_xml,
    summary_line,
    table,
)
from host.qa.conformance.applications import with_aids
from host.qa.conformance.cases import unknown_ins_cases
from host.qa.conformance.secure import gp_secure_opener, gp_terminator
from host.testing import simulated_link
from host.transport.base import Transport, TransportWrapper
from tests.qa._examples import use_stamp_card
from tests.qa._known import KNOWN_DEVIATIONS, key

pytestmark = pytest.mark.sim

KEYS = parse_key_spec("default")
NEGATIVE_SW = {
    CaseKind.WRONG_LENGTH: {0x6700},
    CaseKind.WRONG_P1P2: {0x6A86, 0x6B00},
    CaseKind.WRONG_CLA: {0x6E00, 0x6D00},
    CaseKind.UNKNOWN_INS: {0x6D00},
    CaseKind.SECURITY: {0x6982, 0x6987},
    CaseKind.LIFE_CYCLE: {0x6985},
}


def full_suite(transports: dict[int, Transport], **options: object) -> ConformanceSuite:
    return ConformanceSuite(transports, destructive=True, secure_opener=gp_secure_opener(KEYS),
                            terminate=gp_terminator(transports, KEYS), **options)  # type: ignore[arg-type]


@pytest.fixture
def link(sim_card) -> CardLink:
    return simulated_link(sim_card)


@pytest.fixture(scope="module")
def sample_result(dualcard_template) -> SuiteResult:
    """The whole suite, once, on a fork of the sample card."""
    transports = simulated_link(dualcard_template.fork()).transports
    return full_suite(transports).run()


# --- case generation ---------------------------------------------------------------------

def test_every_spec_with_examples_has_cases() -> None:
    for spec in all_specs():
        cases = generate_cases(spec)
        assert bool(cases) == bool(spec.examples), spec.key
        assert sum(c.kind is CaseKind.EXAMPLE for c in cases) == len(spec.examples)


def test_negative_cases_are_rejected_by_their_own_spec_with_the_sw_they_expect() -> None:
    for spec in all_specs():
        for case in generate_cases(spec):
            if case.kind in (CaseKind.WRONG_LENGTH, CaseKind.WRONG_P1P2):
                with pytest.raises(SpecError) as rejected:
                    spec.parse(case.command)
                assert rejected.value.sw in NEGATIVE_SW[case.kind], str(case)


def test_a_wrong_p1_never_names_another_command() -> None:
    # INITIALIZE FOR LOAD and FOR PURCHASE differ only in P1: 01 is not "wrong" for LOAD
    load = get("purse:INITIALIZE FOR LOAD")
    p1_values = {c.command[2] for c in generate_cases(load) if c.kind is CaseKind.WRONG_P1P2
                 and c.title.startswith("P1")}
    assert p1_values and 0x01 not in p1_values


def test_wrong_cla_is_not_generated_where_the_other_class_has_the_command() -> None:
    gp_get_data = get("gp:GET DATA (class 00)")  # 80CA is the interindustry GET DATA
    assert not [c for c in generate_cases(gp_get_data) if c.kind is CaseKind.WRONG_CLA]


def test_secure_channel_commands_get_a_security_case_and_run_their_others_inside() -> None:
    cases = generate_cases(get("gp:INSTALL"))
    security = [c for c in cases if c.kind is CaseKind.SECURITY]
    assert len(security) == 1 and not security[0].secure
    assert all(c.secure for c in cases if c.kind is not CaseKind.SECURITY)


def test_unknown_ins_uses_an_instruction_no_spec_knows() -> None:
    used = {s.ins for s in all_specs()}
    for case in unknown_ins_cases("purse", list(all_specs())):
        assert case.command[1] not in used and case.command[1] >> 4 not in (6, 9)


# --- the simulator passes ------------------------------------------------------------------

def test_the_sample_card_passes_the_suite(sample_result: SuiteResult) -> None:
    failures = {key(r): r.detail for r in sample_result.failures()}
    unexpected = {k: v for k, v in failures.items() if k not in KNOWN_DEVIATIONS}
    assert not unexpected, "\n".join(f"{k}: {v}" for k, v in unexpected.items())
    counts = sample_result.counts()
    assert counts[Outcome.PASS] > 250 and counts[Outcome.ERROR] == 0


def test_every_kind_of_case_ran_on_the_sample_card(sample_result: SuiteResult) -> None:
    passed = {r.case.kind for r in sample_result.results if r.outcome is Outcome.PASS}
    assert passed == set(CaseKind)


def test_every_application_was_found_where_it_lives(sample_result: SuiteResult) -> None:
    where = {name: sorted((t.chip, t.aid.hex().upper()) for t in targets)
             for name, targets in sample_result.targets.items()}
    assert where == {"gp": [(1, "A000000151000000"), (2, "A000000151000000")],
                     "payment": [(1, "F0000000010101"), (1, "F0000000010102")],
                     "purse": [(2, "F0000000020101")]}


def test_only_interindustry_commands_nobody_implements_are_skipped(sample_result) -> None:
    skipped = {r.case.command_name for r in sample_result.results if r.outcome is Outcome.SKIP}
    assert skipped == {"iso7816:PUT DATA"}  # GET CHALLENGE: the payment application (binding)


def test_the_sample_card_recorded_no_internal_errors(sim_card, link) -> None:
    full_suite(link.transports).run()
    assert not sim_card.chip1.internal_errors and not sim_card.chip2.internal_errors


def test_without_keys_secure_cases_are_skipped_and_said_why(link) -> None:
    result = ConformanceSuite(link.transports).run()
    secure = [r for r in result.results if r.case.secure]
    assert secure and all(r.outcome is Outcome.SKIP for r in secure)
    assert "keys" in secure[0].detail
    destructive = [r for r in result.results if r.case.destructive and not r.case.secure]
    assert destructive and all("--destructive" in r.detail for r in destructive)


# --- broken cards fail ---------------------------------------------------------------------

class AlwaysOK(TransportWrapper):
    """A card that answers 9000 to everything."""

    def transmit(self, apdu: bytes) -> bytes:
        self.inner.transmit(apdu)
        return b"\x90\x00"


class SkipsCheck(TransportWrapper):
    """A card that skips one check: it answers 9000 where the real card refused with ``sws``."""

    def __init__(self, inner: Transport, sws: set[int]) -> None:
        super().__init__(inner)
        self.sws = sws

    def transmit(self, apdu: bytes) -> bytes:
        response = self.inner.transmit(apdu)
        return b"\x90\x00" if int.from_bytes(response[-2:], "big") in self.sws else response


def _run_broken(link: CardLink, wrap: Callable[[Transport], Transport]) -> SuiteResult:
    broken = {n: wrap(t) for n, t in link.transports.items()}
    return full_suite(broken).run()


def test_a_card_answering_9000_to_everything_fails_every_negative_case(link) -> None:
    result = _run_broken(link, AlwaysOK)
    negatives = [r for r in result.results if r.case.negative]
    assert {r.case.kind for r in negatives} == set(NEGATIVE_SW)
    assert not [r for r in negatives if r.outcome in (Outcome.PASS, Outcome.SKIP)]
    assert not result.ok


@pytest.mark.parametrize("kind", sorted(NEGATIVE_SW, key=str), ids=str)
def test_a_card_skipping_one_check_fails_every_case_of_that_kind(link, kind: CaseKind) -> None:
    result = _run_broken(link, lambda t: SkipsCheck(t, NEGATIVE_SW[kind]))
    of_kind = [r for r in result.results if r.case.kind is kind and r.outcome is not Outcome.SKIP]
    assert of_kind
    passed = [str(r.case) for r in of_kind if r.outcome is Outcome.PASS]
    assert not passed
    assert all(r.outcome is Outcome.FAIL for r in of_kind)
    assert all(r.sw == 0x9000 for r in of_kind if key(r) not in KNOWN_DEVIATIONS)


def _sloppy_stamp_card() -> tuple[type, list[CommandSpec]]:
    use_stamp_card()
    from stamp_card.applet import StampCard
    from stamp_card.specs import SPECS

    class SloppyStampCard(StampCard):
        """Dispatches by INS alone: no class, P1/P2 or length check."""

        def process(self, ctx: APDUContext):  # type: ignore[no-untyped-def]
            entries = self._dispatch.get(ctx.ins)
            if not entries:
                return super().process(ctx)
            name = entries[0][1]
            return getattr(self, name)(ctx, {"data": {"merchant": ctx.data.ljust(4, b"\x00")[:4]}})

    return SloppyStampCard, list(SPECS)


def test_an_applet_skipping_its_checks_fails_those_cases(sim_card, link) -> None:
    sloppy, specs = _sloppy_stamp_card()
    load_file, module, aid = (bytes.fromhex(h) for h in ("F05354414D99", "F05354414D9901",
                                                         "F05354414D990101"))
    register_load_file(LoadFile(load_file, "sloppy stamp card", {module: sloppy}))
    gp = GPClient(link.chip(1))
    gp.select()
    gp.open_secure_channel(KEYS)
    gp.install(load_file, module, aid)

    result = ConformanceSuite({1: link.chip(1)}, specs=specs,
                              applications=with_aids({"stamp": (aid,)}, {})).run()

    by_kind = {kind: {r.outcome for r in result.results if r.case.kind is kind}
               for kind in (CaseKind.WRONG_LENGTH, CaseKind.WRONG_P1P2, CaseKind.WRONG_CLA)}
    assert by_kind == {kind: {Outcome.FAIL} for kind in by_kind}
    assert {r.outcome for r in result.results if r.case.kind is CaseKind.UNKNOWN_INS} \
        == {Outcome.PASS}


def test_the_correct_stamp_card_passes_the_same_cases(link) -> None:
    use_stamp_card()
    import stamp_card.applet  # noqa: F401
    from stamp_card.specs import AID, LOAD_FILE_AID, MODULE_AID, SPECS
    gp = GPClient(link.chip(1))
    gp.select()
    gp.open_secure_channel(KEYS)
    gp.install(LOAD_FILE_AID, MODULE_AID, AID)
    result = ConformanceSuite({1: link.chip(1)}, specs=list(SPECS),
                              applications=with_aids({"stamp": (AID,)}, {})).run()
    assert result.ok and result.counts()[Outcome.PASS] == len(result.results)


# --- reports --------------------------------------------------------------------------------

def test_the_junit_report_counts_what_the_table_shows(sample_result: SuiteResult) -> None:
    root = ET.fromstring(junit_xml(sample_result))
    counts = sample_result.counts()
    assert root.get("tests") == str(len(sample_result.results))
    assert root.get("failures") == str(counts[Outcome.FAIL])
    assert root.get("skipped") == str(counts[Outcome.SKIP])
    assert {s.get("name") for s in root.iter("testsuite")} == {"gp", "iso7816", "payment", "purse"}
    lines = table(sample_result).splitlines()
    assert lines[0].split()[:5] == ["command", "where", "pass", "fail", "skip"]
    assert any(line.startswith("purse:GET BALANCE") for line in lines)
    assert summary_line(sample_result).startswith(("PASSED", "FAILED"))


def test_the_table_names_the_first_failure(link) -> None:
    result = _run_broken(link, AlwaysOK)
    row = next(line for line in table(result).splitlines() if line.startswith("purse:GET BALANCE"))
    assert "FAIL example: answered 9000 but the response does not parse" in row
    assert row.split()[4:7] == ["0", "5", "0"]


# --- the command ---------------------------------------------------------------------------

def test_the_command_writes_junit_and_exits_6_on_failures(dualcard_template, tmp_path) -> None:
    image = tmp_path / "card.json"
    dualcard_template.fork().save(image)
    report = tmp_path / "report.xml"
    result = CliRunner().invoke(conformance, ["--reader", f"sim:{image}", "--keys", "default",
                                              "--junit", str(report)])
    expected = 6 if KNOWN_DEVIATIONS else 0
    assert result.exit_code == expected, result.output
    assert report.exists() and "purse:GET BALANCE" in result.output


def test_the_command_can_restrict_to_one_application(dualcard_template, tmp_path) -> None:
    image = tmp_path / "card.json"
    dualcard_template.fork().save(image)
    result = CliRunner().invoke(conformance, ["--reader", f"sim:{image}", "-a", "payment",
                                              "--json"])
    assert result.exit_code == 0, result.output
    assert '"command": "payment:GENERATE AC"' in result.output
    assert '"command": "purse:' not in result.output


def test_the_command_refuses_terminate_without_keys(tmp_path) -> None:
    result = CliRunner().invoke(conformance, ["--reader", "sim:", "--terminate"])
    assert result.exit_code == 2 and "--keys" in result.output


def test_the_command_refuses_a_bad_aid_option() -> None:
    result = CliRunner().invoke(conformance, ["--reader", "sim:", "--aid", "purse"])
    assert result.exit_code == 2 and "APPLICATION=AID" in result.output


def test_applications_table_knows_each_application_with_specs() -> None:
    named = {s.application for s in all_specs()} - {"iso7816"}
    assert named <= set(APPLICATIONS)


def test_every_known_deviation_still_happens(sample_result: SuiteResult) -> None:
    """When the simulator is fixed, its entry in tests/qa/_known.py must go."""
    failing = {key(r) for r in sample_result.failures()}
    assert set(KNOWN_DEVIATIONS) <= failing, set(KNOWN_DEVIATIONS) - failing
