"""Report the figures: a table on stdout, results JSON, and docs/performance.md with plots."""

from __future__ import annotations

import json
import math
from pathlib import Path

from .harness import REPO

RESULTS = REPO / "benchmarks" / "results"
PAGE = REPO / "docs" / "performance.md"
IMAGES = REPO / "docs" / "performance"
ANALYSIS = REPO / "benchmarks" / "analysis.md"


def fmt(value: float | None, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int) or abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}"
    return f"{text} {unit}".strip()


def verdict(row: dict) -> str:
    return {True: "met", False: "MISSED", None: ""}[row["met"]]


def print_table(rows: list[dict]) -> None:
    header = ("figure", "value", "baseline", "ratio", "target", "")
    lines = [
        (
            r["id"],
            fmt(r["value"], r["unit"]),
            fmt(r["baseline"], r["unit"]) if r["baseline"] is not None else "—",
            f"{r['ratio']:.2f}×" if r["ratio"] is not None else "—",
            r["target"],
            verdict(r),
        )
        for r in rows
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *lines, strict=True)]
    for line in [header, *lines]:
        print("  ".join(str(x).ljust(w) for x, w in zip(line, widths, strict=True)).rstrip())


def write_json(path: Path, meta: dict, rows: list[dict], data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"machine": meta, "figures": rows, "data": data}, indent=1) + "\n")
    tmp.replace(path)
