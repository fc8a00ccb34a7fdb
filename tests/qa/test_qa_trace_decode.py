"""`dualcard trace decode` on real traces: a personalisation and a POS sale run in the simulator.

The traces are what ``--trace`` writes (stderr) while the flows of docs/operators.md and
docs/pos.md run through the CLI: the personalisation in the human format, the sale in
JSON Lines. The decoder must name every command, decode its fields with the specs, undo
the security domain's secure messaging with the keys given, and never print a key.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from host.cli.main import cli
from host.keystore import KeyFile
from tests.pos.conftest import terminal_files
from tests.qa._examples import use_stamp_card

pytestmark = pytest.mark.sim

ROOT = Path(__file__).resolve().parents[2]
PROFILE = ROOT / "examples" / "perso" / "profile.toml"
HOLDER = ('{"name": "DOE/JANE", "holder_id": "X-1", "pan": "6222030000000071", '
          '"card_id": "8860000000000077"}')


def _run(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


@pytest.fixture(scope="module")
def perso_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """A blank card personalised with --trace: the trace file, the keys, the run's report."""
    where = tmp_path_factory.mktemp("perso")
    keys = where / "issuer.json"
    assert _run("perso", "keys", "new", "--out", str(keys)).exit_code == 0
    card = where / "card.json"
    assert _run("sim", "new", "--out", str(card), "--identity", "8860000000000077").exit_code == 0
    run = _run("perso", "run", "--reader", f"sim:{card}", "--profile", str(PROFILE),
               "--keys", str(keys), "--holder", HOLDER, "--pin-mailer", str(where / "pins.csv"),
               "--trace", "--json")
    assert run.exit_code == 0, run.output
    trace = where / "perso.trace"
    trace.write_text(run.stderr, encoding="utf-8")
    return {"trace": trace, "keys": keys, "report": json.loads(run.stdout)}


def _decode(trace: Path, *args: str) -> Result:
    result = _run("trace", "decode", str(trace), *args)
    assert result.exit_code == 0, result.output
    return result


def _blocks(text: str) -> list[str]:
    """The decoded exchanges, one text block each (a block starts with ``line N``)."""
    return re.split(r"\n(?=line \d+ )", text)


def _named(text: str, name: str) -> list[str]:
    return [b for b in _blocks(text) if re.match(rf"line \d+ \[chip\d\] {re.escape(name)} — ", b)]


def test_the_personalisation_trace_names_every_command(perso_run: dict[str, object]) -> None:
    decoded = _decode(perso_run["trace"]).stdout  # type: ignore[arg-type]
    names = re.findall(r"^line \d+ \[chip\d\] (.+?) — (\w+)", decoded, re.MULTILINE)
    assert {n for n, _ in names} >= {"SELECT", "INITIALIZE UPDATE", "EXTERNAL AUTHENTICATE",
                                      "GET STATUS", "INSTALL", "STORE DATA", "PUT KEY",
                                      "SET STATUS", "READ RECORD", "GET BALANCE"}
    assert "unknown INS" not in decoded
    install = _named(decoded, "INSTALL")[0]
    assert "role: 0C (for install and make selectable)" in install
    assert "wrapped (no keys given)" in install  # without keys the data stays as sent


def test_with_the_keys_the_secure_channel_is_undone(perso_run: dict[str, object]) -> None:
    keys = perso_run["keys"]
    decoded = _decode(perso_run["trace"], "--keys", "default",  # type: ignore[arg-type]
                      "--keys", f"kdf3:file:{keys}").stdout
    opening = _named(decoded, "INITIALIZE UPDATE")
    assert "card cryptogram verified with keys default" in opening[0]
    assert "host cryptogram and C-MAC verified" in _named(decoded, "EXTERNAL AUTHENTICATE")[0]
    for chip in ("chip1", "chip2"):  # the read-back proves the keys PUT KEY wrote
        read_back = [b for b in opening if f"[{chip}]" in b][-1]
        isd_kcvs = perso_run["report"]["kcvs"][f"{chip}.isd"]  # type: ignore[index]
        assert f"verified with keys kdf3:file:{keys} (card keys KCV {isd_kcvs})" in read_back
    installs = _named(decoded, "INSTALL")
    assert any("application_aid: F0000000010101" in b and "C-MAC verified, data decrypted" in b
               for b in installs)
    stored = "\n".join(_named(decoded, "STORE DATA"))
    assert '5F20 Cardholder name: 444F452F4A414E45 "DOE/JANE"' in stored
    assert "<encrypted under the DEK, " in stored
    put_key = _named(decoded, "PUT KEY")[0]
    assert "data redacted in the trace" in put_key and "kcvs:" in put_key
    assert "MAC chain was lost at the redacted command" in _named(decoded, "SET STATUS")[0]


def test_no_key_reaches_the_decoded_output(perso_run: dict[str, object]) -> None:
    keys = KeyFile.load(perso_run["keys"])  # type: ignore[arg-type]
    result = _run("trace", "decode", str(perso_run["trace"]), "--keys", "default",
                  "--keys", f"kdf3:file:{perso_run['keys']}", "--json")
    text = result.output.upper()
    for key in keys:
        assert key.value.hex().upper() not in text
    assert bytes(range(0x40, 0x50)).hex().upper() not in text  # the GP test key


def test_the_json_rendering_carries_the_same_decoding(perso_run: dict[str, object]) -> None:
    items = json.loads(_decode(perso_run["trace"], "--keys", "default", "--json").stdout)  # type: ignore[arg-type]
    exchanges = [i for i in items if "name" in i]
    store = next(i for i in exchanges if i["name"] == "STORE DATA"
                 and i["command"]["secure_messaging"]["unwrapped"])
    assert store["spec"] == "gp:STORE DATA"
    assert store["command"]["secure_messaging"]["level_name"] == "C-MAC + C-DECRYPTION"
    assert store["command"]["fields"]["data"]["dgis"]
    assert store["response"] == {**store["response"], "sw": "9000", "meaning": "success"}
    assert {i["event"] for i in items if "event" in i} == {"connect", "disconnect"}


@pytest.fixture(scope="module")
def sale_trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A credit sale on the sample card (docs/pos.md §10), traced as JSON Lines."""
    where = tmp_path_factory.mktemp("pos")
    setup = terminal_files(where)
    sale = _run("pos", "purchase", "--config", setup["config"], "--reader", setup["reader"],
                "--amount", "12.34", "--method", "credit", "--trace", "--trace-format", "json",
                input="1234\n")
    assert sale.exit_code == 0 and "APPROVED" in sale.stdout, sale.output
    trace = where / "sale.jsonl"
    trace.write_text(sale.stderr.replace("PIN: ", ""), encoding="utf-8")  # the prompt
    return trace


def test_the_sale_trace_decodes_to_named_commands_and_fields(sale_trace: Path) -> None:
    decoded = _decode(sale_trace).stdout
    gpo = _named(decoded, "GET PROCESSING OPTIONS")[0]
    assert "5F2A Transaction currency code: 0156" in gpo  # the PDOL the FCI announced
    first_ac, second_ac = _named(decoded, "GENERATE AC")
    assert "reference_control: 80 (ARQC (go online))" in first_ac
    assert "9F02 Amount, authorised: 000000001234" in first_ac  # CDOL1
    assert "9F27 Cryptogram information data: 80" in first_ac
    assert '8A Authorisation response code: 3030 "00"' in second_ac  # CDOL2
    assert "9000: success (issuer authenticated)" in _named(decoded, "EXTERNAL AUTHENTICATE (EMV)")[0]
    verify = _named(decoded, "VERIFY")[0]
    assert "data redacted in the trace" in verify and "qualifier: 80" in verify
    load = _named(decoded, "INITIALIZE FOR LOAD")[0]
    assert "purse: 01 (consumption points)" in load and "amount: 12 (0xC)" in load
    assert "mac1:" in load
    assert "tac:" in _named(decoded, "CREDIT FOR LOAD")[0]
    record = "\n".join(_named(decoded, "READ RECORD"))
    assert '5F20 Cardholder name: 5A48414E472F53414E "ZHANG/SAN"' in record


@pytest.mark.parametrize(("line", "message"), [
    ("[chip1] >> 00A40400 07 F00000", "Lc 07 announces 7 data bytes, the line has 3"),
    ("[chip1] >> 00A404 00", "a command header has 4 bytes"),
    ("[chip1] << 6F10 90", "is not 2 bytes"),
    ("hello", "not a trace line: 'hello'"),
    ('{"dir": "cmd", "cla": "0G"}', "cla"),
    ('{"dir": "sideways"}', "unknown record direction 'sideways'"),
    ("[chip1] << 9000  1.0 ms", "an answer (rsp) with no command before it"),
])
def test_a_malformed_line_is_one_error_naming_the_line(tmp_path: Path, line: str,
                                                       message: str) -> None:
    trace = tmp_path / "bad.trace"
    trace.write_text("# a trace\n[chip1] >> 00A40400 (SELECT)\n[chip1] << 9000\n" + line + "\n")
    result = _run("trace", "decode", str(trace))
    assert result.exit_code == 2
    (error,) = result.output.strip().splitlines()
    assert error.startswith(f"Error: {trace}:4: ") and message in error


def test_an_applets_own_specs_decode_with_specs(tmp_path: Path) -> None:
    use_stamp_card()
    trace = tmp_path / "stamp.trace"
    trace.write_text("[chip1] >> 80300000 04 00000042 01\n[chip1] << 01 9000  0.1 ms\n")
    assert "unknown INS 30" in _decode(trace).stdout
    decoded = _decode(trace, "--specs", "stamp_card.specs").stdout
    assert decoded.startswith("line 1 [chip1] STAMP — stamp  0.1 ms")
