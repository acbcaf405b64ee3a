"""The GIL lab's result: wall times, how many CPUs each way kept busy, and a takeaway that follows them.

The takeaway is written from this run's numbers, not from what such runs usually show: on a
machine whose cores were busy with other work, processes gain little, and it says so.
"""

from __future__ import annotations

import sys


def cpus_busy(run, start: float, end: float) -> float | None:
    """How many CPUs the running blocks between ``start`` and ``end`` (wall-clock) kept busy."""
    blocks = [
        e for e in run.events if e.get("of") == "running" and run.rel(start) <= e["t"] <= run.rel(end) + 0.05
    ]
    if not blocks:
        return None
    span = max(e["t"] for e in blocks) - min(e["t"] - e["wall"] for e in blocks)
    return sum(e["cpu"] for e in blocks) / span if span > 0 else None


def summarize(run, result: dict) -> dict:
    walls = result["walls"]
    names = list(walls)
    bars = []
    for name in names:
        base = walls[names[0]] if name.startswith("CPU") else walls[names[3]]
        bar = {"name": name, "wall": walls[name], "speedup": base / walls[name] if walls[name] else None}
        if name.startswith("CPU"):
            bar["cpus_busy"] = cpus_busy(run, *result["marks"][name])
        bars.append(bar)
    return {
        "bars": bars,
        "cpu_count": result["cpu_count"],
        "usable_cpus": result["usable_cpus"],
        "takeaway": gil_takeaway(run.params, bars, result["usable_cpus"], _gil_enabled()),
    }


def _gil_enabled() -> bool:
    # sys._is_gil_enabled() exists from Python 3.13 (free-threaded builds can turn it off)
    return getattr(sys, "_is_gil_enabled", lambda: True)()


def gil_takeaway(p: dict, bars: list[dict], usable: int, gil_enabled: bool = True) -> str:
    """Say what this run's numbers show, and why, rather than what such runs usually show."""
    serial, threads, processes = bars[0], bars[1], bars[2]
    possible = min(p["processes"], usable)
    busy = {b["name"]: b.get("cpus_busy") or 0.0 for b in bars[:3]}
    said = [f"{usable} CPU{'s' if usable != 1 else ''} usable here."]
    slowed = busy[serial["name"]] < 0.8  # the baseline itself waited for a CPU
    if slowed:
        said.append(
            f"The serial run was slowed by other work on the machine (it kept only "
            f"{busy[serial['name']]:.2f} CPUs busy), which flatters every speedup below; run it again."
        )
    if p["threads"] > 1:
        said.append(
            f"CPU-bound work in {p['threads']} threads ran at {threads['speedup']:.2f}× the serial speed, "
            f"the threads together keeping {busy[threads['name']]:.2f} CPUs busy:"
        )
        if not gil_enabled:
            said.append("this Python runs without a GIL, so they ran side by side.")
        elif threads["speedup"] > 1.2:
            said.append(
                "the GIL lets one thread run Python at a time (the timeline draws the others waiting), "
                "so that gain is not theirs"
                + ("." if slowed else ": other work on the machine came and went; run it again.")
            )
        else:
            said.append(
                "no faster, since the GIL lets one thread run Python at a time "
                "(the timeline draws the others waiting for it)."
            )
    name, speedup = f"{p['processes']} processes", processes["speedup"]
    if p["processes"] == 1:
        said.append("With 1 process there is nothing to run side by side: raise processes.")
    elif possible == 1:
        said.append(f"{name} ran at {speedup:.2f}×: only 1 CPU is usable here, so they took turns.")
    elif speedup >= 1 + 0.5 * (possible - 1):
        said.append(
            f"{name} ran at {speedup:.2f}× (at most {possible}× possible"
            + (", more only against a slowed serial run" if speedup > possible * 1.1 else "")
            + "): each process has its own interpreter and GIL, so they ran on separate cores."
        )
    elif busy[processes["name"]] < 0.8 * possible:
        said.append(
            f"{name} ran at only {speedup:.2f}× (up to {possible}× possible): the machine had no spare "
            f"core, other work held the CPUs, so together they kept {busy[processes['name']]:.2f} of "
            f"{possible} busy. On an idle machine each gets a core of its own; run it again."
        )
    else:
        said.append(
            f"{name} ran at only {speedup:.2f}× (up to {possible}× possible), though they kept "
            f"{busy[processes['name']]:.2f} CPUs busy: starting a process costs more than this little "
            "work saves. Raise work to see them pull ahead."
        )
    said.append(
        f"IO-bound waits: threads ran at {bars[4]['speedup']:.2f}×, since a thread waiting on IO releases "
        "the GIL. Wall times run from start() to join() in the server, so they include starting each process."
    )
    return " ".join(said)
