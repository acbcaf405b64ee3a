"""Fast: a line as a terminal shows it (webapp/terminal.py), and OutputCapture's lines printed
in pieces, on real pipes (webapp/output.py)."""

from __future__ import annotations

import os
import re
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from webapp.output import OutputCapture
from webapp.terminal import LineRenderer, Style, render_line

pytestmark = pytest.mark.fast

CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def shown(*pieces: str, style: Style | None = None) -> tuple[str, list | None]:
    line = LineRenderer(style)
    for piece in pieces:
        line.feed(piece)
    return line.render()


@pytest.mark.parametrize(
    "pieces, text, styles",
    [
        (["plain"], "plain", None),
        (["\x1b[31mred\x1b[0m plain"], "red plain", [[0, 3, "31"]]),
        (["\x1b[1;4;92mbold\x1b[22m not"], "bold not", [[0, 4, "1;4;92"], [4, 8, "4;92"]]),
        (
            ["\x1b[38;5;208mo\x1b[48;2;1;2;3mx\x1b[0m"],
            "ox",
            [[0, 1, "38;5;208"], [1, 2, "38;5;208;48;2;1;2;3"]],
        ),
        (["\x1b[38:2::9:8:7mc"], "c", [[0, 1, "38;2;9;8;7"]]),
        (["\x1b[31mAAAA\x1b[0m\rBB"], "BBAA", [[2, 4, "31"]]),  # \r keeps each cell's own style
        ([" 10%|#    |", "\r 20%|##   |"], " 20%|##   |", None),
        (["long text\r\x1b[2Kshort"], "short", None),  # rich, pip: \r then erase the line
        (["abcdef\r\x1b[3C\x1b[K"], "abc", None),
        (["abc\b\bX"], "aXc", None),
        (["a\tb"], "a       b", None),
        (["\x1b[3", "1mX", "\x1b[0m"], "X", [[0, 1, "31"]]),  # an escape cut between two pieces
        (["a\x1b]0;title\x07b\x1b]8;;https://x\x1b\\link\x1b]8;;\x1b\\"], "ablink", None),
        (["\x1b[?25lhidden\x1b[2A\x1b[1;1H cursor\x1b[?25h"], "hidden cursor", None),
        (["x\x00y\x07z\x7f\x9bq"], "xyzq", None),
        (["\x1b(Bx\x1b7y\x1b8\x1b"], "xy", None),
        (["<b>&amp;</b>"], "<b>&amp;</b>", None),  # text, never markup
    ],
)
def test_a_line_renders_as_a_terminal_shows_it(pieces, text, styles):
    assert shown(*pieces) == (text, styles)


def test_the_style_carries_over_to_the_next_line():
    style = Style()
    assert render_line("\x1b[33mwarning", style)[:2] == ("warning", [[0, 7, "33"]])
    assert render_line("still yellow", style)[:2] == ("still yellow", [[0, 12, "33"]])
    assert render_line("\x1b[0mplain", style)[:2] == ("plain", None)


def test_a_runaway_line_is_bounded():
    text, _ = shown("x" * 20_000)
    assert len(text) == 10_000
    line = LineRenderer()
    line.feed("\x1b]" + "t" * 1000)  # an OSC that never ends
    line.feed("ok")
    assert line.render() == ("ok", None)


ALPHABET = st.sampled_from("ab \r\b\t\x1b[];0123456789mKCDGH?\x07\\é")
pieces = st.lists(st.text(alphabet=ALPHABET, max_size=12), max_size=8)


@settings(max_examples=300, deadline=None)
@given(pieces)
def test_pieces_render_as_the_whole_and_never_hold_a_control_character(parts):
    whole = shown("".join(parts))
    assert shown(*parts) == whole
    assert not CONTROL.search(whole[0])


# -- OutputCapture on real pipes -----------------------------------------------------------
class Capture:
    """An OutputCapture reading one pipe as PID 1's stdout; keeps every batch it sends."""

    def __init__(self) -> None:
        self.sent: list[dict] = []
        self.cond = threading.Condition()
        self.capture = OutputCapture(self.emit, partial_delay=0.05)
        read_end, self.w = os.pipe()
        self.capture.attach(1, {"stdout": read_end})

    def emit(self, lines: list[dict], skipped: int) -> None:
        with self.cond:
            self.sent.extend(lines)
            self.cond.notify_all()

    def write(self, data: bytes) -> None:
        os.write(self.w, data)

    def wait(self, check, what: str):
        with self.cond:
            assert self.cond.wait_for(lambda: check(self.sent), timeout=10), f"{what}: {self.sent}"

    def kept(self) -> list[dict]:
        return self.capture.lines(1)[0]

    def close(self) -> None:
        try:
            os.close(self.w)
        except OSError:
            pass
        self.capture.close()


@pytest.fixture
def capture():
    c = Capture()
    yield c
    c.close()


def test_a_line_printed_in_pieces_is_one_line_updated_until_its_newline(capture):
    capture.write(b"0 ")
    capture.wait(lambda s: s and s[-1].get("open"), "the first piece, as an open line")
    assert capture.sent[-1]["rendered"] == "0 " and capture.sent[-1]["n"] == 1
    capture.write(b"1 ")
    capture.wait(lambda s: s[-1]["rendered"] == "0 1 ", "the second piece, on the same line")
    assert capture.sent[-1]["n"] == 1 and capture.sent[-1]["open"]
    capture.write(b"2\nnext\n")
    capture.wait(lambda s: s[-1]["text"] == "next", "the newline")
    done = [line for line in capture.sent if not line.get("open")]
    assert [(line["n"], line["rendered"]) for line in done] == [(1, "0 1 2"), (2, "next")]
    assert [(line["n"], line["rendered"], line.get("open")) for line in capture.kept()] == [
        (1, "0 1 2", None),
        (2, "next", None),
    ]
    assert [line["rendered"] for line in capture.capture.recent()] == ["0 1 2", "next"]


def test_a_progress_bar_is_one_line_that_keeps_its_last_state(capture):
    capture.write(b"\x1b[32m  0%|          |")
    capture.wait(lambda s: s and s[-1].get("open"), "the bar, open")
    capture.write(b"\r 50%|#####     |")
    capture.wait(lambda s: s[-1]["rendered"] == " 50%|#####     |", "the redraw")
    capture.write(b"\r100%|##########|\x1b[0m\n")
    capture.wait(lambda s: not s[-1].get("open"), "the bar's end")
    (line,) = capture.kept()
    assert line["rendered"] == "100%|##########|"
    assert line["styles"] == [[0, 16, "32"]]
    assert line["text"].startswith("\x1b[32m  0%") and "\r 50%" in line["text"]  # the raw text
    assert {line["n"] for line in capture.sent} == {1}


def test_an_open_line_ends_with_its_stream(capture):
    capture.write(b"prompt> ")
    capture.wait(lambda s: s and s[-1].get("open"), "the prompt, open")
    os.close(capture.w)
    capture.wait(lambda s: not s[-1].get("open"), "the stream's end")
    assert [(line["rendered"], line.get("open")) for line in capture.kept()] == [("prompt> ", None)]


def test_whole_lines_are_sent_once_as_printed(capture):
    capture.write(b"".join(b"line %d\n" % i for i in range(1000)) + b"\x1b[1mbold\x1b[0m\n")
    capture.wait(lambda s: len(s) == 1001, "1001 lines")
    assert [line["n"] for line in capture.sent] == list(range(1, 1002))
    assert all(line["rendered"] == line["text"] and "open" not in line for line in capture.sent[:1000])
    assert capture.sent[-1]["rendered"] == "bold" and capture.sent[-1]["styles"] == [[0, 4, "1"]]
