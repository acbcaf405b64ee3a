"""What a finished, stopped or timed-out lab run says: worded from its own numbers and its own end."""

from __future__ import annotations

import pytest

from webapp.labs.gil import gil_takeaway

PARAMS = {"jobs": 4, "work": 1_000_000, "threads": 4, "processes": 2, "io_seconds": 0.2}


def bars(serial_busy: float, threads: float, threads_busy: float, processes: float, processes_busy: float):
    """The GIL lab's bars, as its summary builds them: speedups against the serial run."""
    return [
        {"name": "CPU, serial", "wall": 1.0, "speedup": 1.0, "cpus_busy": serial_busy},
        {"name": "CPU, 4 threads", "wall": 1 / threads, "speedup": threads, "cpus_busy": threads_busy},
        {
            "name": "CPU, 2 processes",
            "wall": 1 / processes,
            "speedup": processes,
            "cpus_busy": processes_busy,
        },
        {"name": "IO, serial", "wall": 0.8, "speedup": 1.0},
        {"name": "IO, 4 threads", "wall": 0.2, "speedup": 4.0},
    ]


@pytest.mark.parametrize(
    ("measured", "usable", "says", "never"),
    [
        # the tutorial's case: processes on two free cores
        (bars(1.0, 0.98, 0.97, 1.85, 1.9), 2, ["1.85×", "separate cores", "no faster"], ["no spare core"]),
        # the case: 0.81x with both cores busy elsewhere
        (
            bars(0.9, 0.97, 0.95, 0.81, 0.9),
            2,
            ["only 0.81×", "no spare core", "0.90 of 2"],
            ["separate cores"],
        ),
        # cores were free, the work too small to pay for starting processes
        (
            bars(1.0, 1.0, 0.99, 0.9, 1.8),
            2,
            ["only 0.90×", "Raise work"],
            ["separate cores", "no spare core"],
        ),
        # threads "faster" than serial only because the serial run was starved
        (bars(0.5, 1.9, 0.98, 1.8, 1.9), 2, ["1.90×", "not theirs", "slowed", "0.50 CPUs"], ["no faster"]),
        # processes beyond what the CPUs allow: only against a slowed baseline
        (bars(0.45, 2.4, 0.6, 3.1, 1.9), 2, ["3.10×", "more only against a slowed serial run"], ["no spare"]),
        # one usable CPU: nothing can run side by side
        (bars(1.0, 1.0, 1.0, 0.95, 1.0), 1, ["only 1 CPU is usable", "took turns"], ["separate cores"]),
    ],
    ids=["processes-help", "no-spare-core", "work-too-small", "serial-starved", "beyond-possible", "one-cpu"],
)
def test_the_gil_takeaway_follows_the_measurement(measured, usable, says, never) -> None:
    text = gil_takeaway(PARAMS, measured, usable)
    for words in says:
        assert words in text, (words, text)
    for words in never:
        assert words not in text, (words, text)
