"""Every command that reads a user's file, fed bad files: never a traceback, always one line.

Each reader below is a command line with ``{bad}`` where the file under test goes (every
other file it names is valid). A fixed corpus (not UTF-8, byte order marks, nesting far
past the limit, huge fields and lines, empty, NUL bytes, too large) must end in exit 2
(``bad input file``) and exactly one ``Error:`` line on stderr; files of the right syntax
but the wrong shape (a list where an object belongs, a TOML table for a CSV reader) must
end in one line and a failure code; hypothesis then throws random bytes, random JSON and
mutations of each reader's valid file at it, and no outcome may be a traceback.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apdu_specs.crypto.ciphers import Algorithm
from apdu_specs.crypto.kcv import kcv
from apdu_specs.documents import MAX_BYTES
from host.backoffice.sample_cards import SampleCards, SampleTerminal
from host.cli.exit_codes import ExitCode
from host.cli.main import cli
from host.keystore import new_key_file
from host.testing.personalise import sample_card
from host.transport.sim import blank_card
from tests.backoffice.backoffice_helpers import T0, TEA_TERMINAL
from tests.pos.conftest import terminal_files

pytestmark = [pytest.mark.sim, pytest.mark.slow]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "perso"
CHEAP = 2**4  # scrypt cost for a test key file
ISD_FCI = ("6F418408A000000151000000A535732F06072A864886FC6B01600C060A2A864886FC6B02020301630906"
           "072A864886FC6B03640B06092A864886FC6B0403709F6501FF")  # what the blank card answers
ZERO_KCV = kcv(Algorithm.AES, bytes(16)).hex()


@dataclass(frozen=True)
class Reader:
    """A command that reads the file ``{bad}``; ``sample`` names a valid file of its kind."""

    name: str
    kind: str  # json, toml, csv, text (lines of a format of ours), secret, binary
    argv: tuple[str, ...]
    sample: str | None  # None: no valid file of the kind at hand
    empty_ok: bool = False  # a 0-byte file is meaningful (a new audit journal)


def _world(root: Path) -> dict[str, str]:
    """Valid files for every command, in ``root``."""
    keys = new_key_file("AES")
    keys.save(root / "keys.json")
    keys.save(root / "parts-keys.json")
    keys.save(root / "sealed.json", "operator secret", cost=CHEAP)
    shutil.copy(EXAMPLES / "profile.toml", root / "profile.toml")
    shutil.copy(EXAMPLES / "holders.csv", root / "holders.csv")
    blank_card("8860000000000042").save(root / "blank.json")
    (root / "passphrase.txt").write_text("operator secret\n")
    (root / "part.txt").write_text("00" * 16 + "\n")
    (root / "gp-keys.toml").write_text('[issuer]\nkey = "404142434445464748494A4B4C4D4E4F"\n')
    (root / "script.apdu").write_text("00 A4 04 00 00  -> 6F .. 9000\n")
    (root / "trace.txt").write_text(f">> 00A40400 00 (SELECT)\n<< {ISD_FCI} 9000\n")
    pos = root / "pos"
    pos.mkdir()
    files = terminal_files(pos)
    _ledger(root)
    sample_card().save(root / "sample.json")
    result = CliRunner().invoke(cli, ["stripe", "wave", "--pan", "6222030000000071", "--expiry", "3012",
                                      "--out", str(root / "swipe.wav")])
    assert result.exit_code == 0, result.output
    return {"root": str(root), "config": files["config"], "pos": str(pos)}


def _ledger(root: Path) -> None:
    db = str(root / "ledger.sqlite3")
    at = ["--at", "2025-03-14T09:00:00+08:00"]
    for argv in (["init"], ["member", "add", "merchant", "TEA", "--name", "Tea", "--terminal",
                            TEA_TERMINAL],
                 ["member", "add", "consumer", "C001", "--name", "Li", "--card", "CARD0001"],
                 ["agreement", "add", "TEA-STD", "--issuer", "TEA", "--points", "1",
                  "--per-fen", "100"]):
        result = CliRunner().invoke(cli, ["ledger", *argv, "--db", db, *at])
        assert result.exit_code == 0, result.output
    cards = SampleCards("bad-files")
    (root / "card-keys.json").write_text(json.dumps(cards.key_file_data(["CARD0001"])))
    terminal = SampleTerminal(TEA_TERMINAL, cards)
    terminal.load("CARD0001", 12, 1_234, T0)
    (root / "batch.json").write_text(json.dumps(terminal.close_batch("B1").as_dict()))


_PERSO = ("perso", "batch", "--profile", "{root}/profile.toml", "--keys", "{root}/keys.json",
          "--input", "{root}/holders.csv", "--out-dir", "{root}/cards", "--dry-run")
_LEDGER = ("ledger", "clear", "{root}/batch.json", "--keys", "{root}/card-keys.json",
           "--db", "{root}/ledger.sqlite3", "--at", "2025-03-14T12:00:00+08:00")


def _swap(argv: tuple[str, ...], old: str, new: str = "{bad}") -> tuple[str, ...]:
    return tuple(new if a == old else a for a in argv)


READERS = [
    Reader("holders CSV", "csv", _swap(_PERSO, "{root}/holders.csv"), "holders.csv"),
    Reader("profile TOML", "toml", _swap(_PERSO, "{root}/profile.toml"), "profile.toml"),
    Reader("issuer key file (list)", "json", ("perso", "keys", "list", "--keys", "{bad}"), "keys.json"),
    Reader("issuer key file (batch)", "json", _swap(_PERSO, "{root}/keys.json"), "keys.json"),
    Reader("passphrase file", "secret", (*_swap(_PERSO, "{root}/keys.json", "{root}/sealed.json"),
                               "--passphrase-file", "{bad}"), "passphrase.txt"),
    Reader("key component file", "secret", ("perso", "keys", "import-parts", "--keys",
                                            "{root}/parts-keys.json", "--name", "spare",
                                            "--replace", "--part-file", "{bad}", "--part-file",
                                            "{root}/part.txt", "--part-kcv", ZERO_KCV,
                                            "--part-kcv", ZERO_KCV, "--kcv", ZERO_KCV),
           "part.txt"),
    Reader("audit journal", "json", (*_PERSO[:-1], "--audit", "{bad}"), None, empty_ok=True),
    Reader("gp key file", "toml", ("gp", "list", "-r", "sim:{root}/blank.json", "--key-file", "{bad}",
                           "--key", "issuer"), "gp-keys.toml"),
    Reader("trace (decode)", "text", ("trace", "decode", "{bad}"), "trace.txt"),
    Reader("trace (replay)", "text", ("replay", "{bad}", "-r", "sim:{root}/blank.json"), "trace.txt"),
    Reader("APDU script", "text", ("script", "run", "{bad}", "-r", "sim:{root}/blank.json"),
           "script.apdu"),
    Reader("payment issuer keys", "json", ("pay", "purchase", "-r", "sim:{root}/sample.json",
                                   "--amount", "1", "--no-pin", "--issuer-keys", "{bad}"),
           "pos/issuer.json"),
    Reader("points key file", "json", ("points", "load", "-r", "sim:{root}/sample.json", "--purse",
                               "bank", "--amount", "1", "--keys", "{bad}"),
           "pos/points-keys.json"),
    Reader("ledger batch", "json", _swap(_LEDGER, "{root}/batch.json"), "batch.json"),
    Reader("ledger card keys", "json", _swap(_LEDGER, "{root}/card-keys.json"), "card-keys.json"),
    Reader("terminal configuration", "json", ("pos", "journal", "--config", "{bad}"),
           "pos/terminal.json"),
    Reader("printed slip", "text", ("pos", "slip", "--parse", "{bad}"), None),
    Reader("magstripe WAV", "binary", ("stripe", "decode", "--wav", "{bad}"), "swipe.wav"),
    Reader("card image (sim info)", "json", ("sim", "info", "--card", "{bad}"), "blank.json"),
    Reader("card image (reader)", "json", ("pay", "apps", "-r", "sim:{bad}"), "sample.json"),
]

#: bad whatever a text format: each must end in exit 2 and one line naming the file
TEXT_DEFECTS: dict[str, bytes] = {
    "empty": b"",
    "white space": b" \n\t \r\n",
    "UTF-16 with BOM": "\ufeffname,holder_id\nLI/NA,C-1\n".encode("utf-16"),
    "Latin-1": "name,holder_id\nMÜLLER/ANA,C-1\n".encode("latin-1"),
    "not UTF-8 at once": b"\x80\x81\x82 and then text",
    "binary": bytes(range(256)) * 4,
}
#: bad for one format: the same outcome, for the readers of that format
FORMAT_DEFECTS: dict[str, dict[str, bytes]] = {
    "json": {
        "deep JSON arrays": b"[" * 100_000,
        "deep JSON objects": b'{"a":' * 50_000,
        "JSON nested one level too deep": b"[" * 65 + b"]" * 65,
        "UTF-8 BOM then half a document": b"\xef\xbb\xbf{\"format\": ",
        "JSON integer of 5000 digits": b'{"a": ' + b"9" * 5_000 + b"}",
        "NUL bytes": b"\x00" * 64,
    },
    "toml": {
        "deep TOML arrays": b"a = " + b"[" * 5_000 + b"]" * 5_000,
        "deep TOML keys": b"a" + b".b" * 100 + b" = 1\n",
        "TOML integer of 5000 digits": b"a = " + b"9" * 5_000 + b"\n",
        "UTF-8 BOM then half a document": b"\xef\xbb\xbf[issuer\n",
        "NUL bytes": b"\x00" * 64,
    },
    "csv": {
        "huge CSV field": b'name,holder_id\n"' + b"A" * 200_000 + b'",C-1\n',
        "NUL bytes": b"name,holder_id\n\x00,C-1\n",
        "CSV with a header only": b"name,holder_id\n",
    },
    "binary": {"empty": b"", "text": b"RIFF but not really", "binary": bytes(range(256))},
}


def _defects(kind: str) -> dict[str, bytes]:
    if kind == "binary":
        return FORMAT_DEFECTS["binary"]
    return {**TEXT_DEFECTS, **FORMAT_DEFECTS.get(kind, {})}


CASES = [(reader, name) for reader in READERS for name in _defects(reader.kind)
         if not (reader.empty_ok and name == "empty")]

#: the right syntax, the wrong shape
WRONG_SHAPES: dict[str, bytes] = {
    "JSON array": b"[]",
    "JSON null": b"null",
    "JSON string": b'"keys"',
    "JSON number": b"42",
    "JSON object of wrong types": b'{"format": 5, "version": "x", "keys": [], "cards": [], '
                                  b'"suite": {}, "dir": 1, "chips": "x", "imk_ac": {}}',
    "TOML table": b'format = 1\n[issuer]\nkey = 7\n',
    "CSV of other columns": b"a,b\n1,2\n",
    "duplicate holder ids": b"name,holder_id\nLI/NA,C-1\nWU/DI,C-1\n",
}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return _world(tmp_path_factory.mktemp("bad-files"))


def _run(reader: Reader, world: dict[str, str], bad: Path) -> Result:
    argv = [a.replace("{bad}", str(bad)).replace("{root}", world["root"]) for a in reader.argv]
    return CliRunner().invoke(cli, argv, env={"DUALCARD_KEYS_PASSPHRASE": None})


def _assert_one_line(result: Result, what: str) -> None:
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{what}: traceback {result.exception!r}")
    assert "Traceback" not in result.output, what
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), f"{what}: {result.stderr!r}"


def _feed(world: dict[str, str], reader: Reader, content: bytes, name: str) -> tuple[Result, Path]:
    bad = Path(world["root"]) / "bad" / name
    bad.parent.mkdir(exist_ok=True)
    bad.write_bytes(content)
    return _run(reader, world, bad), bad


@pytest.mark.parametrize(("reader", "defect"), CASES,
                         ids=[f"{r.name}: {d}" for r, d in CASES])
def test_a_defective_file_is_one_line_naming_it_and_exit_2(world: dict[str, str], reader: Reader,
                                                            defect: str) -> None:
    result, bad = _feed(world, reader, _defects(reader.kind)[defect], "defect.txt")
    _assert_one_line(result, f"{reader.name} / {defect}")
    assert result.exit_code == ExitCode.USAGE, result.stderr
    if reader.kind != "secret" or defect in TEXT_DEFECTS:
        assert f"Error: {bad}" in result.stderr  # the message starts with the file


@pytest.mark.parametrize("reader", READERS, ids=lambda r: r.name)
def test_a_file_past_the_size_limit_is_refused_unread(world: dict[str, str],
                                                      reader: Reader) -> None:
    bad = Path(world["root"]) / "bad" / "huge.bin"
    bad.parent.mkdir(exist_ok=True)
    with bad.open("wb") as fh:  # sparse: no disk is spent on it
        fh.truncate(MAX_BYTES + 1)
    result = _run(reader, world, bad)
    _assert_one_line(result, reader.name)
    assert result.exit_code == ExitCode.USAGE and f"larger than {MAX_BYTES} bytes" in result.stderr


@pytest.mark.parametrize("reader", READERS, ids=lambda r: r.name)
@pytest.mark.parametrize("shape", WRONG_SHAPES, ids=str)
def test_a_file_of_the_wrong_shape_is_one_line(world: dict[str, str], reader: Reader,
                                               shape: str) -> None:
    result, _ = _feed(world, reader, WRONG_SHAPES[shape], "shape.txt")
    _assert_one_line(result, f"{reader.name} / {shape}")
    assert result.exit_code in (ExitCode.FAILURE, ExitCode.USAGE), result.stderr


@pytest.mark.parametrize("reader", READERS, ids=lambda r: r.name)
def test_a_valid_file_behind_a_utf8_bom_is_read(world: dict[str, str], reader: Reader) -> None:
    """The control: each reader's valid file works (so the failures above are the file's
    doing), also behind a UTF-8 byte order mark."""
    if reader.sample is None or reader.kind == "binary":
        pytest.skip("no valid text sample of this kind")
    sample = (Path(world["root"]) / reader.sample).read_bytes()
    result, _ = _feed(world, reader, b"\xef\xbb\xbf" + sample, Path(reader.sample).name)
    assert result.exit_code == 0, result.output


def _json_values() -> st.SearchStrategy[object]:
    scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=20)
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                        | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=12)


def _mutated(sample: bytes) -> st.SearchStrategy[bytes]:
    """``sample`` cut short, or with a few bytes replaced, inserted or removed."""
    def apply(edits: list[tuple[int, int, bytes]]) -> bytes:
        data = bytearray(sample)
        for position, drop, insert in edits:
            at = position % (len(data) + 1)
            data[at:at + drop] = insert
        return bytes(data)

    edit = st.tuples(st.integers(0, 10**6), st.integers(0, 8), st.binary(max_size=8))
    return st.integers(0, len(sample)).map(lambda n: sample[:n]) | st.lists(
        edit, min_size=1, max_size=4).map(apply)


@pytest.mark.parametrize("reader", READERS, ids=lambda r: r.name)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_no_generated_file_makes_a_traceback(world: dict[str, str], reader: Reader,
                                             data: st.DataObject) -> None:
    sample = (Path(world["root"]) / reader.sample).read_bytes() if reader.sample else b""
    content = data.draw(st.one_of(
        st.binary(max_size=300),
        _json_values().map(lambda v: json.dumps(v).encode()),
        _mutated(sample),
    ), label="file")
    result, _ = _feed(world, reader, content, "generated.bin")
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{reader.name}: traceback {result.exception!r}")
    if result.exit_code != 0:
        assert result.stderr.splitlines()[-1:] and \
            result.stderr.splitlines()[-1].startswith("Error: "), result.stderr
        assert result.exit_code in {int(c) for c in ExitCode}, result.stderr

