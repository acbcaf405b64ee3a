"""The long fault-injection run: ``python -m chaos.run [--only NAME ...] [--budget SECONDS]``.

Each scenario starts its own real server (``python -m webapp``) with real workers, Manager and
Socket.IO clients, injects its fault, checks the invariants (the same scenario functions the
fast tests run, in tests/fault_scenarios.py and tests/load_scenarios.py, with longer
parameters) and stops the server, asserting nothing was left behind. The run is bounded: a
scenario that would start after the budget is skipped, and a watchdog ends a run that
overstays it by two minutes. Figures go to chaos/results/latest.json and are printed; the
exit status is 1 if any scenario failed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

import bad_frames  # noqa: E402
import fault_scenarios as faults  # noqa: E402 -- needs the path above
import flood_scenarios as floods  # noqa: E402
import load_scenarios as loads  # noqa: E402

from testkit.client import SocketClient  # noqa: E402
from testkit.server import Server  # noqa: E402

RESULTS = REPO / "chaos" / "results" / "latest.json"
DEFAULT_BUDGET = 300.0


def with_server(body: Callable[[Server], dict], *args: str, **options) -> Callable[[Path], dict]:
    """A scenario: start a server (no rate limit), run ``body`` on it, stop it and check it left nothing."""

    def run(log_dir: Path) -> dict:
        srv = Server(log_dir, *args, rate_limit=0, **options)
        try:
            figures = body(srv)
        except BaseException:
            srv.allow_errors = True  # report the scenario's failure, not the log's
            try:
                srv.stop()
            except AssertionError:
                pass
            raise
        srv.stop()
        return figures

    return run


def manager_kills(srv: Server) -> dict:
    watcher = SocketClient(srv)
    try:
        return faults.kill_manager(srv, watcher, rounds=5)
    finally:
        watcher.close()


def server_kills(log_dir: Path) -> dict:
    """SIGKILL three servers, each with workers of every kind: count the orphans."""
    rounds = []
    for n in range(3):
        srv = Server(log_dir / f"round{n}", rate_limit=0, max_workers=10)
        rounds.append(faults.server_kill(srv))
    return {
        "servers_killed": len(rounds),
        "processes": sum(r["processes"] for r in rounds),
        "orphans": sum(r["orphans"] for r in rounds),
        "slowest_all_gone_s": max(r["all_gone_after_s"] for r in rounds),
    }


SCENARIOS: dict[str, tuple[str, Callable[[Path], dict]]] = {
    "kill_storm": (
        "8 burst workers, random ones SIGKILLed (and replaced) for 30 s, 3 clients",
        with_server(
            lambda s: faults.kill_storm(s, 30, workers=8, clients=3), "--ended-cap", "5000", max_workers=8
        ),
    ),
    "manager_kills": (
        "the Manager SIGKILLed 5 times under REST load",
        with_server(manager_kills, max_workers=8),
    ),
    "server_kills": ("the server SIGKILLed 3 times with 8 workers of every kind", server_kills),
    "big_state": (
        "a 1,000,000-item list: its extend and a joining client's snapshot (~13 MB each) arrive whole",
        with_server(lambda s: floods.big_state(s, items=1_000_000), max_workers=4),
    ),
    "resync_flood": (
        "one client sends 20,000 resyncs with 10,000 dict entries and a writer running, for 10 s",
        with_server(
            lambda s: floods.resync_flood(s, requests=20_000, entries=10_000, seconds=10), max_workers=4
        ),
    ),
    "output_flood": (
        "32 printers print 160 MB of 10,000-character lines flat out; ended output budget 16 MiB",
        with_server(
            lambda s: {
                **floods.output_flood(s, printers=32, lines=500, width=10_000),
                **floods.ended_output(s, budget=16 * 2**20, workers=40, lines=2000, width=200),
            },
            "--ended-output-mib",
            "16",
            max_workers=32,
        ),
    ),
    "short_workers": (
        "20,000 short workers spawned and ended, default --ended-cap 1000",
        with_server(lambda s: faults.short_workers(s, total=20_000, batch=64, cap=1000), max_workers=64),
    ),
    "spawn_storm": (
        "500 spawn/kill requests at once over REST and Socket.IO, --max-workers 8",
        with_server(lambda s: loads.spawn_storm(s, total=500, max_workers=8), max_workers=8),
    ),
    "stuck_clients": (
        "5 clients stop reading for 15 s while 4 workers write flat out",
        with_server(lambda s: loads.stuck_clients(s, 15, stuck=5), max_workers=8),
    ),
    "reconnecting_clients": (
        "50 clients connecting and disconnecting in a loop for 40 s; 5 more connect and go silent",
        with_server(
            lambda s: loads.reconnect_loop(s, 50, 40, settle_threads=True, abandoned=5), max_workers=8
        ),
    ),
    "malformed_frames": (
        "every malformed Socket.IO frame 20 times, each from its own client, 3 clients following",
        with_server(lambda s: bad_frames.malformed_frames(s, rounds=20, clients=3), max_workers=4),
    ),
    "soak": (
        "15 s of everything: writers, printers, lock users, crashes, SIGKILL/SIGTERM, 3 clients",
        with_server(lambda s: loads.soak(s, 15), max_workers=16),
    ),
}


def summary(results: dict) -> dict:
    """The headline figures across scenarios (docs/reliability.md quotes them)."""

    def figures(name: str) -> dict:
        return results.get(name, {}).get("figures", {})

    every = [r.get("figures", {}) for r in results.values()]
    return {
        "workers_killed": figures("kill_storm").get("workers_killed", 0)
        + figures("soak").get("workers_killed", 0),
        "mutations_checked": figures("kill_storm").get("mutations_checked", 0)
        + figures("soak").get("mutations_checked", 0),
        "lost_acknowledged_changes": sum(f.get("lost_acknowledged_changes", 0) for f in every),
        "clients": {
            "kill_storm": figures("kill_storm").get("clients"),
            "stuck": figures("stuck_clients").get("stuck_clients"),
            "reconnecting": figures("reconnecting_clients").get("clients"),
            "reconnections": figures("reconnecting_clients").get("connections"),
        },
        "short_workers": figures("short_workers").get("workers"),
        "malformed_frames": figures("malformed_frames").get("bad_frames"),
        "malformed_frame_log_lines": figures("malformed_frames").get("log_lines"),
        "big_state_items": figures("big_state").get("items"),
        "resync_flood": {
            "resyncs": figures("resync_flood").get("resyncs_sent"),
            "snapshots": figures("resync_flood").get("snapshots_received"),
        },
        "largest_output_message": figures("output_flood").get("largest_message_bytes"),
        "manager_kills": figures("manager_kills").get("manager_kills"),
        "zombies": sum(f.get("zombies", 0) for f in every),
        "orphans": figures("server_kills").get("orphans"),
        # growth over the baseline (below it is fine: the baseline may include a worker)
        "fd_drift": max((max(0, f.get("fd_drift", 0)) for f in every), default=0),
        "thread_drift": max((max(0, f.get("thread_drift", 0)) for f in every), default=0),
        "failed": [name for name, r in results.items() if r["status"] == "failed"],
        "skipped": [name for name, r in results.items() if r["status"] == "skipped"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chaos.run", description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=sorted(SCENARIOS), help="run just these scenarios")
    parser.add_argument("--budget", type=float, default=DEFAULT_BUDGET, help="seconds (default 300)")
    args = parser.parse_args(argv)
    names = args.only or list(SCENARIOS)

    def overstayed(signum, frame):
        raise TimeoutError(f"chaos run overstayed its {args.budget:.0f} s budget by 120 s")

    signal.signal(signal.SIGALRM, overstayed)
    signal.alarm(int(args.budget) + 120)
    started = time.monotonic()
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="mpscope-chaos-") as tmp:
        for name in names:
            what, run = SCENARIOS[name]
            elapsed = time.monotonic() - started
            if elapsed > args.budget:
                results[name] = {"what": what, "status": "skipped", "reason": "over budget"}
                print(f"-- {name}: skipped (the {args.budget:.0f} s budget is spent)", flush=True)
                continue
            print(f"-- {name}: {what}", flush=True)
            t = time.monotonic()
            try:
                figures = run(Path(tmp) / name)
                results[name] = {"what": what, "status": "passed", "figures": figures}
            except BaseException as exc:  # noqa: BLE001 -- recorded; the run goes on
                results[name] = {
                    "what": what,
                    "status": "failed",
                    "error": "".join(traceback.format_exception_only(type(exc), exc)).strip()[:2000],
                }
                traceback.print_exc()
                if isinstance(exc, KeyboardInterrupt):
                    break
            results[name]["seconds"] = round(time.monotonic() - t, 1)
            print(
                f"   {results[name]['status']} in {results[name]['seconds']} s: "
                f"{json.dumps(results[name].get('figures', results[name].get('error')))}",
                flush=True,
            )
    signal.alarm(0)
    report = {
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "seconds": round(time.monotonic() - started, 1),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "system": platform.platform(),
        },
        "summary": summary(results),
        "scenarios": results,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nchaos summary ({report['seconds']} s), written to {RESULTS.relative_to(REPO)}:")
    print(json.dumps(report["summary"], indent=2))
    return 1 if report["summary"]["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
