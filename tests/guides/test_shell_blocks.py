"""The shell-block runner itself: what it runs, what it refuses, and what makes a run fail."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.docblocks import Block, programs, shell_problems
from tests.guides.sandbox import make_sandbox

pytestmark = pytest.mark.unit


def block(text: str, lang: str = "console", *words: str, no_run: str | None = None) -> Block:
    return Block("guide.md", 10, lang, words, text, no_run, None)


def test_programs_are_the_first_word_of_each_command() -> None:
    script = ("mkdir -p keys  # a comment; rm -rf /\n"
              "X=1 python3 -c 'a\nb' > out.csv && kill %1; dualcard sim info \\\n  --card c.json\n"
              "dualcard trace decode t --keys kdf3:file:k.json#isd | cat\n"
              "PORT=$(python -c 'print(1)') && dualcard host echo 127.0.0.1:$PORT; $X\n")
    assert programs(script) == ["mkdir", "python3", "kill", "dualcard", "dualcard", "cat",
                                "python", "dualcard", "$X"]


def test_a_block_says_why_it_does_not_run() -> None:
    assert shell_problems(block("apt-get install pcscd\n", "sh")) != []
    assert shell_problems(block("apt-get install pcscd\n", "sh", no_run="needs root")) == []
    assert shell_problems(block("apt-get install pcscd\n", "sh", no_run="")) != []


def test_a_block_using_the_virtual_reader_says_so() -> None:
    text = "$ dualcard apdu --reader 'pcsc:Virtual PCD' 00A4040000\n"
    assert any("vpcd" in p for p in shell_problems(block(text)))
    assert shell_problems(block(text, "console", "vpcd")) == []


def test_an_error_shown_is_an_error_expected(tmp_path: Path) -> None:
    sandbox = make_sandbox(tmp_path)
    shown = block("$ dualcard stripe encode --pan 4123456789012345\nError: fails the Luhn check\n")
    assert sandbox.run([shown], with_vpcd=False).exit_code == 0
    wrong = block("$ dualcard stripe encode --pan 4111111111111111\nError: it does not\n")
    ran = sandbox.run([wrong], with_vpcd=False)
    assert ran.exit_code != 0 and "docs/guide.md:11 succeeded" in ran.output


def test_a_failing_command_names_its_line(tmp_path: Path) -> None:
    ran = make_sandbox(tmp_path).run([block("$ echo fine\n$ dualcard sim info --card none.json\n")],
                                     with_vpcd=False)
    assert ran.exit_code != 0 and "::failed at docs/guide.md:12" in ran.output


def test_a_server_left_running_fails_the_guide(tmp_path: Path) -> None:
    server = block("python3 -c 'import time; time.sleep(60)' &\n", "sh")
    ran = make_sandbox(tmp_path).run([server], with_vpcd=False, grace=0.5)
    assert ran.exit_code != 0 and "outlived the guide" in ran.output


def test_input_goes_to_the_block_that_asks(tmp_path: Path) -> None:
    asks = block("$ python3 -c 'print(input() == \"1234\")'\n", "console", "stdin=1234")
    ran = make_sandbox(tmp_path).run([asks], with_vpcd=False)
    assert ran.exit_code == 0 and "True" in ran.output


def test_no_run_vpcd_and_output_blocks_are_left_out_when_asked(tmp_path: Path) -> None:
    blocks = [block("$ dualcard sim info --card none.json\n", no_run="shown only"),
              block("$ dualcard sim info --card none.json\n", "console", "vpcd"),
              block("Error: holders.csv:3: not UTF-8 text\n")]
    assert make_sandbox(tmp_path).run(blocks, with_vpcd=False).exit_code == 0
