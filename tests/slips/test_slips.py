"""The print module: golden ESC/POS bytes, GB18030 text, the PDF page rendered and compared,
a network printer on port 9100, and the CLI's one-line errors."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from host.cli.main import cli
from host.slips import Item, Slip, SlipError, SlipKind, decode_escpos, encode_escpos, layout
from host.slips.model import display_width

HERE = Path(__file__).parent
ORDER = HERE / "order.json"


def order() -> Slip:
    return Slip.load(ORDER)


def test_escpos_bytes_match_the_golden_file() -> None:
    assert encode_escpos(order()) == (HERE / "order.escpos").read_bytes()


def test_escpos_bytes_say_what_a_printer_expects() -> None:
    data = encode_escpos(order())
    # ESC @, FS & (Chinese mode), then the merchant centred, bold, double size
    assert data.startswith(bytes.fromhex("1B40" "1C26" "1B6101" "1B4501" "1D2111"))
    assert data[13:21] == bytes.fromhex("C1AAC3CBC9CCB3C7")  # 联盟商城 in GB18030
    assert bytes.fromhex("B6A9B5A5") in data  # 订单 in GB18030
    assert data.endswith(bytes.fromhex("0A0A" "1D564203"))  # feed, partial cut
    assert b"389.00" in data


def test_decoded_slip_reads_as_printed() -> None:
    lines = decode_escpos(encode_escpos(order()))
    text = [line.split("]")[-1] for line in lines]
    assert "  北京市朝阳区建国路 88 号" in text
    total = next(t for t in text if t.startswith("TOTAL"))
    assert total.endswith("389.00") and display_width(total) == 48


@given(st.lists(st.tuples(st.text(min_size=1, max_size=60).filter(
    lambda t: t.isprintable()), st.integers(1, 99), st.integers(0, 10**7)), min_size=1, max_size=5),
       st.sampled_from([32, 42, 48]))
def test_no_line_is_wider_than_the_paper(items, width) -> None:
    slip = Slip(SlipKind.RECEIPT, "商户", "R1", "李四",
                tuple(Item(n, q, p) for n, q, p in items), ("地址",), "—")
    assert all(display_width(line.text) <= (width // 2 if line.large else width)
               for line in layout(slip, width))
    assert slip.total == sum(q * p for _, q, p in items)


def test_pdf_page_renders_like_the_checked_in_png() -> None:
    pdfium = pytest.importorskip("pypdfium2")
    from PIL import Image, ImageChops

    from host.slips.pdf import encode_pdf

    document = pdfium.PdfDocument(encode_pdf(order()))
    page = document[0]
    text = page.get_textpage().get_text_range()
    assert "联盟商城" in text and "放款条件" in text and "ORD-2026-0001" in text
    rendered = page.render(scale=2).to_pil().convert("L")
    expected = Image.open(HERE / "order.png").convert("L")
    assert rendered.size == expected.size
    differing = sum(ImageChops.difference(rendered, expected).histogram()[65:])
    assert differing < rendered.size[0] * rendered.size[1] // 200, differing
    inked = sum(rendered.histogram()[:128])
    assert inked > 2000  # the glyphs are drawn, not empty boxes or a blank page


def test_slip_goes_to_a_network_printer() -> None:
    received = bytearray()
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]

        def printer() -> None:
            conn, _ = server.accept()
            with conn:
                while chunk := conn.recv(4096):
                    received.extend(chunk)

        thread = threading.Thread(target=printer)
        thread.start()
        result = CliRunner().invoke(cli, ["print", "slip", str(ORDER), "--to",
                                          f"tcp:127.0.0.1:{port}"])
        thread.join(10)
    assert result.exit_code == 0, result.output
    assert bytes(received) == encode_escpos(order())


def test_cli_writes_a_pdf_and_shows_escpos(tmp_path: Path) -> None:
    out = tmp_path / "slip.pdf"
    result = CliRunner().invoke(cli, ["print", "slip", str(ORDER), "--format", "pdf", "--to", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"%PDF-")
    shown = CliRunner().invoke(cli, ["print", "slip", str(ORDER), "--show", "--to",
                                     str(tmp_path / "slip.bin")])
    assert "[cut 66 3]" in shown.output and "389.00" in shown.output


def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"merchant": "x"}')
    result = CliRunner().invoke(cli, ["print", "slip", str(bad), "--to", str(tmp_path / "o")])
    assert result.exit_code == 2 and result.output.startswith("Error: not a slip")
    assert len(result.output.splitlines()) == 1
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
    refused = CliRunner().invoke(cli, ["print", "slip", str(ORDER), "--to", f"tcp:127.0.0.1:{port}"])
    assert refused.exit_code == 1 and refused.output.startswith("Error: printer 127.0.0.1:")


def test_text_outside_gb18030_is_refused() -> None:
    slip = Slip(SlipKind.ORDER, "m", "O1", "h", (Item("\udcff", 1, 1),))
    with pytest.raises(SlipError):
        encode_escpos(slip)
