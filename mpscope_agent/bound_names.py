"""Which name a call on the program's line is bound to: ``b = mp.Lock()`` for the second call
of ``a, b = mp.Lock(), mp.Lock()`` (the labels of the program's own objects and locks).

By the column of the frame's current instruction on Python 3.11+, by the order of the
line's calls before that.
"""

from __future__ import annotations

from .stacks import source_line


def bound_name(frame, line: str) -> str | None:
    """``b = mp.Lock()`` for the second call of ``a, b = mp.Lock(), mp.Lock()``: the call being
    made (the column of the frame's current instruction, Python 3.11+; before, which of the
    line's calls it is) and the name it is bound to."""
    # the columns count from the line's start; a trailing comment is no part of a value
    whole = source_line(frame.f_code.co_filename, frame.f_lineno, strip=False).split("  #")[0].rstrip()
    if "=" not in whole:
        return None
    targets, _, values = whole.partition("=")
    names = [t.strip() for t in targets.split(",")]
    calls, columns, at = [], [], len(targets) + 1  # each value and the column it starts at
    for part in _split_top(values):
        calls.append(part.strip())
        columns.append(at + len(part) - len(part.lstrip()))
        at += len(part) + 1
    if len(calls) == 1:
        return None  # the whole line says it
    if getattr(frame.f_code, "co_positions", None) is not None:
        index = _by_column(frame, whole, calls, columns)
    else:
        index = _by_call_order(frame, len(calls))
    if index is None or len(names) != len(calls) or not names[index].isidentifier():
        return None
    return f"{names[index]} = {calls[index]}"


def _by_column(frame, whole: str, calls: list[str], columns: list[int]) -> int | None:
    """Which of ``calls`` the frame's current instruction is, by its column (Python 3.11+)."""
    try:
        lineno, _end, col, end_col = list(frame.f_code.co_positions())[frame.f_lasti // 2]
    except (IndexError, ValueError):
        return None
    if lineno != frame.f_lineno or col is None or end_col is None:
        return None
    call = whole[col:end_col]
    return next((i for i, v in enumerate(calls) if v == call and columns[i] == col), None)


def _by_call_order(frame, values: int) -> int | None:
    """Which of a line's ``values`` calls the frame's current one is, counting the calls its
    bytecode makes on that line (Python 3.9, 3.10: no columns); None if the line makes more
    calls than it has values (a call among the arguments)."""
    import dis

    code, lasti = frame.f_code, frame.f_lasti
    starts = sorted(dis.findlinestarts(code))
    begin = max((offset for offset, _ in starts if offset <= lasti), default=0)
    end = min((offset for offset, _ in starts if offset > lasti), default=len(code.co_code))
    calls = [
        i.offset
        for i in dis.get_instructions(code)
        if begin <= i.offset < end and i.opname.startswith("CALL")
    ]
    return calls.index(lasti) if len(calls) == values and lasti in calls else None


def _split_top(text: str) -> list[str]:
    """``text`` split at the commas outside brackets."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += ch in "([{"
        depth -= ch in ")]}"
        if ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts
