"""Chip 1's payment application against a model: PIN tries, ATC, cryptogram types, CVR history.

The model restates the card risk rules of docs/payment.md independently of
``cardlib.payment.risk``; hypothesis drives random transactions (PIN right or
wrong, any requested cryptogram, online answers with a valid, forged or missing
ARPC, offline completion, abandoned transactions) and checks every answer and the
persistent counters against it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from apdu_specs.payment.ac_type import ACType
from apdu_specs.payment.bcd import encode_amount
from apdu_specs.payment.cvr import CardHistory
from cardlib.memory import TransientMemory
from cardlib.payment.state import PaymentState, payment_pin
from host.payment.card_data import CardData
from host.payment.client import CryptogramResponse, PaymentClient
from host.payment.issuer import AuthorisationPolicy, AuthorisationRequest, Issuer
from host.payment.scripts import pin_unblock
from host.payment.terminal import build_dol
from tests.payment.cards import DEBIT, VECTOR_IMK, chip1, personalised_card

PROFILE = replace(DEBIT, offline_limit=20_000, lower_consecutive_offline=2,
                  upper_consecutive_offline=4, pin_try_limit=3)
BASE = personalised_card(PROFILE)
APPROVING = Issuer(VECTOR_IMK)
DECLINING = Issuer(VECTOR_IMK, policy=AuthorisationPolicy(approve_up_to=-1))


@dataclass
class Model:
    atc: int = 0
    last_online_atc: int = 0
    count: int = 0
    offline_amount: int = 0
    incomplete: bool = False
    auth_failed_last: bool = False
    not_performed_last: bool = False
    tries: int = PROFILE.pin_try_limit
    scripts_now: int = 0
    scripts_last: int = 0

    def history(self) -> CardHistory:
        return CardHistory(
            last_online_incomplete=self.incomplete, pin_try_limit_exceeded=self.tries == 0,
            velocity_exceeded=self.count >= PROFILE.lower_consecutive_offline,
            new_card=self.last_online_atc == 0, issuer_auth_failed_last=self.auth_failed_last,
            issuer_auth_not_performed_last=self.not_performed_last,
            scripts_processed=self.scripts_last)

    def first(self, requested: ACType, amount: int) -> ACType:
        h = self.history()
        online = (h.new_card or h.velocity_exceeded or h.last_online_incomplete
                  or h.issuer_auth_failed_last or h.issuer_auth_not_performed_last
                  or h.pin_try_limit_exceeded or amount + self.offline_amount > PROFILE.offline_limit)
        if requested is ACType.AAC:
            return ACType.AAC
        return ACType.ARQC if requested is ACType.ARQC or online else ACType.TC


class PaymentMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.card = BASE.fork()
        self.client = PaymentClient(chip1(self.card))
        self.model = Model()
        self.started = False
        self.data: CardData | None = None
        self.aip = b""
        self.values: dict[int, bytes] = {}
        self.first: CryptogramResponse | None = None
        self.second_done = False
        self.pin_tried = self.pin_failed = False
        self.amount = 0

    def _store(self):
        return self.card.card.chip1.content.instance(PROFILE.application_aid).store

    @rule()
    def start(self) -> None:
        fci = self.client.select_application(PROFILE.application_aid)
        self.values = {0x5F2A: b"\x01\x56", 0x9F1A: b"\x01\x56", 0x9F37: b"\x11\x22\x33\x44"}
        options = self.client.get_processing_options(build_dol(fci.pdol, self.values))
        self.aip = options.aip
        self.data = self.client.read_application_data(options.afl)
        self.model.atc += 1
        self.model.scripts_last, self.model.scripts_now = self.model.scripts_now, 0
        self.started, self.first, self.second_done = True, None, False
        self.pin_tried = self.pin_failed = False

    @precondition(lambda self: self.started and self.first is None)
    @rule(correct=st.booleans())
    def verify(self, correct: bool) -> None:
        result = self.client.verify_pin("1234" if correct else "9999")
        self.pin_tried = True
        if self.model.tries == 0:
            assert result.blocked and not result.verified
            self.pin_failed = True
        elif correct:
            assert result.verified
            self.model.tries, self.pin_failed = PROFILE.pin_try_limit, False
        else:
            self.model.tries -= 1
            assert (result.verified, result.tries_left) == (False, self.model.tries)
            self.pin_failed = True

    @precondition(lambda self: self.started and self.first is None)
    @rule(requested=st.sampled_from(list(ACType)), amount=st.integers(0, 25_000))
    def first_ac(self, requested: ACType, amount: int) -> None:
        self.values[0x9F02] = encode_amount(amount)
        expected = self.model.first(requested, amount)
        history = self.model.history()
        cdol1 = build_dol(self.data.cdol1, self.values)
        first = self.client.generate_ac(requested, cdol1)
        assert (first.kind, first.atc) == (expected, self.model.atc)
        cvr = first.issuer_application_data.cvr
        assert cvr.history == history
        assert (cvr.pin_verified, cvr.pin_failed) == (self.pin_tried, self.pin_failed)
        APPROVING.verify_arqc(AuthorisationRequest(PROFILE.pan, "00", first.atc, first.cryptogram,
                                                   cdol1, self.aip, first.iad, amount, 156))
        self.model.count += 1
        if expected is ACType.ARQC:
            self.model.incomplete = True
        elif expected is ACType.TC:
            self.model.offline_amount += amount
        self.first, self.amount, self.cdol1 = first, amount, cdol1

    def _awaiting_second(self) -> bool:
        return self.first is not None and self.first.kind is ACType.ARQC and not self.second_done

    @precondition(_awaiting_second)
    @rule(approve=st.booleans(), arpc=st.sampled_from(["valid", "forged", "missing"]),
          via_external=st.booleans(), unblock_pin=st.booleans())
    def go_online(self, approve: bool, arpc: str, via_external: bool, unblock_pin: bool) -> None:
        request = AuthorisationRequest.from_transaction(self.data, self.aip, self.cdol1, self.first)
        issuer = APPROVING if approve else DECLINING
        response = issuer.authorise(request, scripts_before=[pin_unblock] if unblock_pin else [])
        data91 = response.issuer_authentication_data
        if arpc == "forged":
            data91 = bytes([data91[0] ^ 0x80]) + data91[1:]
        elif arpc == "missing":
            data91 = bytes(len(data91))
        if via_external and arpc != "missing":
            assert self.client.external_authenticate(data91) is (arpc == "valid")
        for result in self.client.apply_scripts(response.scripts, 0x71):
            assert result.ok
        if unblock_pin:
            self.model.tries = PROFILE.pin_try_limit
            self.model.scripts_now += 1
        values = {**self.values, 0x8A: response.arc, 0x91: data91}
        second = self.client.generate_ac(ACType.TC if approve else ACType.AAC,
                                         build_dol(self.data.cdol2, values))
        approved = arpc == "valid" and approve
        assert (second.kind, second.atc) == (ACType.TC if approved else ACType.AAC, self.model.atc)
        m = self.model
        m.incomplete = False
        if arpc == "valid":
            m.auth_failed_last = m.not_performed_last = False
        elif arpc == "missing":
            m.not_performed_last = True
        else:
            m.auth_failed_last = True
        if approved:
            m.last_online_atc, m.count, m.offline_amount = m.atc, 0, 0
        self.second_done = True

    @precondition(_awaiting_second)
    @rule()
    def unable_to_go_online(self) -> None:
        values = {**self.values, 0x8A: b"Y3", 0x91: bytes(8)}
        second = self.client.generate_ac(ACType.TC, build_dol(self.data.cdol2, values))
        m = self.model
        ok = (m.count <= PROFILE.upper_consecutive_offline
              and m.offline_amount + self.amount <= PROFILE.offline_limit)
        assert second.kind is (ACType.TC if ok else ACType.AAC)
        assert second.issuer_application_data.cvr.unable_to_go_online
        if ok:
            m.offline_amount += self.amount
        m.incomplete = False
        self.second_done = True

    @invariant()
    def counters_match_the_model(self) -> None:
        state = PaymentState(self._store())
        pin = payment_pin(self._store(), TransientMemory())
        assert (state.atc, state.last_online_atc, pin.tries_left) == (
            self.model.atc, self.model.last_online_atc, self.model.tries)
        assert (state.offline_count, state.offline_amount) == (self.model.count,
                                                               self.model.offline_amount)


PaymentMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
test_payment_application_against_model = PaymentMachine.TestCase
