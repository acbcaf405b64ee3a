"""A terminal's line discipline for one output stream, one line at a time.

What a process prints is shown on the page as a terminal would show it, line by line:
``\\r`` takes the cursor back to the start of the line (what comes next overwrites it: a
progress bar is one line that changes), ``\\b`` one column back, ``\\t`` to the next
multiple of 8; ``ESC [ … m`` (SGR) sets colours and styles, which carry over to the next
line as on a terminal; ``ESC [ K`` erases, ``ESC [ C``/``D``/``G`` move along the line.
Every other control character and escape sequence (cursor up, clear screen, window
titles, hyperlinks' targets, private modes) is dropped: what is left is text, never markup.

A line is kept as cells (one per code point: wide characters count as one column) with a
style each, and rendered as ``(text, styles)``: the plain text, and ``[[start, end, sgr],
...]`` for the styled runs, ``sgr`` being the canonical SGR parameters of that run
(``"1;31"``, ``"38;5;208"``, ``"38;2;255;0;0;48;5;17"``): ``"\\x1b[" + sgr + "m"`` puts a
terminal in that style. No style is ``""`` and has no run.
"""

from __future__ import annotations

import re

MAX_COLUMNS = 10_000  # what a line keeps; writes past it are dropped
MAX_ESCAPE = 256  # an unfinished escape sequence longer than this is dropped
TAB = 8

# Everything that is not plain text: C0 controls, DEL, C1 controls.
_SPECIAL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Complete escape sequences, matched at an ESC.
_CSI = re.compile(r"\x1b\[([0-?]*)([ -/]*)([@-~])")
_OSC = re.compile(r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)")  # window title, hyperlink target...
_STRING = re.compile(r"\x1b[P^_X][^\x1b]*\x1b\\")  # DCS, PM, APC, SOS
_ESC = re.compile(r"\x1b(?![\[\]P^_X])[ -/]*[0-~]")  # others: charset, save cursor...
# What may still become a complete sequence when more text comes.
_UNFINISHED = re.compile(r"\x1b(?:\[[0-?]*[ -/]*|\][^\x07\x1b]*\x1b?|[P^_X][^\x1b]*\x1b?|[ -/]*)\Z")

# SGR attributes kept, by code: bold, faint, italic, underline, blink, inverse, hidden, strike.
_FLAGS = (1, 2, 3, 4, 5, 7, 8, 9)
_UNSET = {21: (4,), 22: (1, 2), 23: (3,), 24: (4,), 25: (5,), 27: (7,), 28: (8,), 29: (9,)}


class Style:
    """The SGR state of a stream: attribute flags and colours, as canonical parameters."""

    __slots__ = ("flags", "fg", "bg", "sgr")

    def __init__(self) -> None:
        self.flags = 0  # bit k set: attribute k on
        self.fg = ""  # "31", "91", "38;5;N", "38;2;R;G;B"; "" is the default
        self.bg = ""
        self.sgr = ""

    def apply(self, params: str) -> None:
        """Apply one SGR sequence's parameters (``"1;31"``, ``""``, ``"38:2::1:2:3"``)."""
        parts = params.replace(":", ";").split(";") if params else ["0"]
        # colon sub-parameters (38:2::R:G:B) have an empty colour-space slot: drop it
        if ":" in params and len(parts) >= 6 and parts[0] in ("38", "48") and parts[1:3] == ["2", ""]:
            del parts[2]
        i = 0
        while i < len(parts):
            part = parts[i]
            code = int(part) if part.isdigit() and len(part) < 4 else 0 if part == "" else -1
            i += 1
            if code == 0:
                self.flags, self.fg, self.bg = 0, "", ""
            elif code in _FLAGS:
                self.flags |= 1 << code
            elif code in _UNSET:
                for flag in _UNSET[code]:
                    self.flags &= ~(1 << flag)
            elif 30 <= code <= 37 or 90 <= code <= 97:
                self.fg = str(code)
            elif 40 <= code <= 47 or 100 <= code <= 107:
                self.bg = str(code)
            elif code == 39:
                self.fg = ""
            elif code == 49:
                self.bg = ""
            elif code in (38, 48):
                colour, i = _extended(parts, i, code)
                if colour is not None:
                    if code == 38:
                        self.fg = colour
                    else:
                        self.bg = colour
        flags = ";".join(str(k) for k in _FLAGS if self.flags >> k & 1)
        self.sgr = ";".join(p for p in (flags, self.fg, self.bg) if p)


def _extended(parts: list[str], i: int, code: int) -> tuple[str | None, int]:
    """Read a 256-colour (``5;N``) or true-colour (``2;R;G;B``) colour after 38 or 48."""
    kind = parts[i] if i < len(parts) else ""
    if kind == "5" and i + 1 < len(parts):
        n = _byte(parts[i + 1])
        return (None if n is None else f"{code};5;{n}"), i + 2
    if kind == "2" and i + 3 < len(parts):
        rgb = [_byte(p) for p in parts[i + 1 : i + 4]]
        if None in rgb:
            return None, i + 4
        return f"{code};2;{rgb[0]};{rgb[1]};{rgb[2]}", i + 4
    return None, len(parts)  # malformed: the rest of the sequence is ignored


def _byte(part: str) -> int | None:
    if not part.isdigit() or len(part) > 3:
        return None
    n = int(part)
    return n if n <= 255 else None


class LineRenderer:
    """One stream's current line: fed text as it comes (in pieces), rendered on demand."""

    __slots__ = ("cells", "styles", "col", "style", "escape", "styled")

    def __init__(self, style: Style | None = None) -> None:
        self.cells: list[str] = []
        self.styles: list[str] = []  # each cell's canonical SGR ("" for none)
        self.col = 0
        self.style = style or Style()
        self.escape = ""  # the start of an escape sequence cut by the end of a piece
        self.styled = bool(self.style.sgr)  # some cell may have a style

    def feed(self, text: str) -> None:
        """Apply ``text`` (no newline in it) to the line."""
        if self.escape:
            text, self.escape = self.escape + text, ""
        at = 0
        while True:
            found = _SPECIAL.search(text, at)
            if found is None:
                if at < len(text):
                    self._put(text[at:] if at else text)
                return
            pos = found.start()
            if pos > at:
                self._put(text[at:pos])
            char = text[pos]
            at = pos + 1
            if char == "\r":
                self.col = 0
            elif char == "\b":
                self.col = max(0, self.col - 1)
            elif char == "\t":
                self._move(min(MAX_COLUMNS, (self.col // TAB + 1) * TAB))
            elif char == "\x1b":
                at = self._escape(text, pos)
                if at < 0:  # cut: wait for the rest
                    rest = text[pos:]
                    self.escape = rest if len(rest) <= MAX_ESCAPE else ""
                    return
            # any other control character is dropped

    def _escape(self, text: str, pos: int) -> int:
        """Apply the escape sequence at ``pos``; return where the text goes on (-1: unfinished)."""
        csi = _CSI.match(text, pos)
        if csi is not None:
            params, intermediate, final = csi.groups()
            private = params[:1] in ("<", "=", ">", "?")
            if not private and not intermediate:
                if final == "m":
                    self.style.apply(params)
                    if self.style.sgr:
                        self.styled = True
                elif final == "K":
                    self._erase(params)
                elif final in "CDG":
                    n = int(params) if params.isdigit() and len(params) < 6 else 1
                    n = max(n, 1)
                    if final == "C":
                        self._move(min(MAX_COLUMNS, self.col + n))
                    elif final == "D":
                        self.col = max(0, self.col - n)
                    else:
                        self._move(min(MAX_COLUMNS, n - 1))
            return csi.end()
        for sequence in (_OSC, _STRING, _ESC):
            found = sequence.match(text, pos)
            if found is not None:
                return found.end()
        if _UNFINISHED.match(text, pos):
            return -1
        return pos + 1  # a lone or broken ESC: dropped, what follows is text

    def _put(self, run: str) -> None:
        col = self.col
        if col >= MAX_COLUMNS:
            return
        run = run[: MAX_COLUMNS - col]
        end = col + len(run)
        cells = self.cells
        if col > len(cells):
            self._pad(col)
        cells[col:end] = run
        sgr = self.style.sgr
        self.styles[col:end] = [sgr] * len(run)
        self.col = end

    def _move(self, col: int) -> None:
        """Move the cursor to ``col``; like a terminal, a move past the end shows blanks."""
        self.col = col

    def _pad(self, col: int) -> None:
        missing = col - len(self.cells)
        self.cells.extend(" " * missing)
        self.styles.extend([""] * missing)

    def _erase(self, params: str) -> None:
        mode = params or "0"
        if mode == "0":  # from the cursor to the end
            del self.cells[self.col :]
            del self.styles[self.col :]
        elif mode == "1":  # from the start to the cursor
            n = min(self.col + 1, len(self.cells))
            self.cells[:n] = " " * n
            self.styles[:n] = [""] * n
        elif mode == "2":  # the whole line
            self.cells.clear()
            self.styles.clear()

    def render(self) -> tuple[str, list[list] | None]:
        """The line as shown: its text, and its styled runs (None if it has none)."""
        text = "".join(self.cells)
        if not self.styled:
            return text, None
        runs: list[list] = []
        styles = self.styles
        start, current = 0, ""
        for i, sgr in enumerate(styles):
            if sgr is not current and sgr != current:
                if current:
                    runs.append([start, i, current])
                start, current = i, sgr
        if current:
            runs.append([start, len(styles), current])
        return text, runs or None

    def next_line(self) -> None:
        """A newline: an empty line, the cursor at its start; the style carries over."""
        self.cells = []
        self.styles = []
        self.col = 0
        self.escape = ""
        self.styled = bool(self.style.sgr)


def render_line(text: str, style: Style | None = None) -> tuple[str, list[list] | None, Style]:
    """Render one whole line starting in ``style``; return its text, runs and the style after it."""
    line = LineRenderer(style)
    line.feed(text)
    rendered, runs = line.render()
    return rendered, runs, line.style
