"""The two replayers of ``snapshot`` + ``changes`` rebuild the same objects from the same golden fixtures.

Python's (:class:`sharedstate.replica.StateReplica`) and the page's (``static/js/objects.js``
with the kind modules, run in headless Chromium: the page's own ES modules, served from
``static/`` by Playwright's request routing, no Node and no build step) are each fed the
fixtures of ``tests/fixtures/replay/`` (recorded from real Manager runs by
``tests/replay_fixtures.py``) and must give, after every batch, every object as the
server's mirror had it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from replay_fixtures import ROOT, fixture_paths, load_fixture

from sharedstate.kinds import KINDS
from sharedstate.replica import StateReplica

PATHS = fixture_paths()
STATIC = ROOT / "static"
ORIGIN = "http://replay.mpscope.test"  # never reached: every request is answered by route()
# ops a Replica knows that no Manager run records: a Condition inherits the lock ops, but the
# journal cannot release one for a dead holder (ObservedCondition has no _force_release)
UNRECORDABLE = {"ConditionReplica": {"break"}}


def test_the_fixtures_cover_every_kind_and_every_op():
    kinds, ops = set(), set()
    for path in PATHS:
        fixture = load_fixture(path)
        kinds |= {obj["kind"] for obj in fixture["expected"]["objects"].values()}
        for batch in fixture["changes"]:
            ops |= {(op["kind"], op["op"]) for op in batch["ops"]}
    assert kinds >= set(KINDS), f"no fixture has {set(KINDS) - kinds}"
    families: dict[type, set[str]] = {}
    for name, kind in KINDS.items():  # kinds sharing a Replica share its ops (Queue, JoinableQueue)
        families.setdefault(kind.replica, set()).add(name)
    for replica, names in families.items():
        seen = {op for kind, op in ops if kind in names}
        missing = set(replica.OPS) - seen - UNRECORDABLE.get(replica.__name__, set())
        assert not missing, f"no fixture has {sorted(names)} ops {sorted(missing)}"
    assert {"create", "forget"} <= {op for _, op in ops}


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.stem)
def test_the_python_replayer_rebuilds_each_fixture(path: Path):
    fixture = load_fixture(path)
    replica = StateReplica()
    replica.load(fixture["snapshot"])
    for i, (batch, after) in enumerate(zip(fixture["changes"], fixture["after"], strict=True)):
        replica.add(batch)
        assert replica.described() == after, f"after batch {i}"
    assert replica.version == fixture["expected"]["version"]
    assert replica.described() == fixture["expected"]["objects"]


# -- the page's replayer, in Chromium -----------------------------------------------------------
REPLAY = """async (fixture) => {
  const { ObjectsModel } = await import("/static/js/objects.js");
  const { kindModule } = await import("/static/js/kinds/index.js");
  const { namedLocks } = await import("/static/js/locks.js");
  const described = (model) => {
    const out = {};
    for (const [id, obj] of model.objects) {
      const { value, writers } = kindModule(obj.kind).value(obj.state, obj.kind);
      out[id] = { kind: obj.kind, label: obj.label, value };
      if (writers !== undefined) out[id].writers = writers;
    }
    return out;
  };
  const model = new ObjectsModel();
  model.load(fixture.snapshot);
  const steps = fixture.changes.map((batch) => ({
    result: model.apply(batch),
    objects: described(model),
    locks: namedLocks(model, new Map()).map(({ holder_alive, ...lock }) => lock),
  }));
  // what the page does with a batch it already has, and with one after a gap
  const again = fixture.changes.length ? model.apply(fixture.changes[fixture.changes.length - 1]) : "stale";
  const fresh = new ObjectsModel();
  fresh.load(fixture.snapshot);
  const gap = fixture.changes.length > 1 ? fresh.apply(fixture.changes[1]) : "gap";
  return { version: model.version, mutations: model.mutations, steps, again, gap };
}"""


def serve_static(route: Any) -> None:
    """Answer the test page's requests: a blank page, and the files under static/."""
    path = urlparse(route.request.url).path
    if path == "/":
        route.fulfill(body="<!doctype html><title>replay</title>", content_type="text/html")
        return
    file = (ROOT / path.lstrip("/")).resolve()
    if path.startswith("/static/") and file.is_file() and STATIC in file.parents:
        route.fulfill(path=str(file))
    else:
        route.fulfill(status=404, body="not found")


@pytest.fixture(scope="module")
def replay_page(browser: Any):
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.route(f"{ORIGIN}/**", serve_static)
    page.goto(f"{ORIGIN}/")
    yield page
    context.close()
    assert not errors, f"the page raised: {errors}"


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.stem)
def test_the_page_replayer_rebuilds_each_fixture(replay_page: Any, path: Path):
    fixture = load_fixture(path)
    got = replay_page.evaluate(REPLAY, fixture)
    python = StateReplica()
    python.load(fixture["snapshot"])
    for i, (step, batch, after) in enumerate(
        zip(got["steps"], fixture["changes"], fixture["after"], strict=True)
    ):
        assert step["result"] == "ok", f"batch {i}"
        assert step["objects"] == after, f"after batch {i}"
        python.add(batch)
        assert step["locks"] == list(python.locks.values()), f"the named locks after batch {i}"
    assert got["version"] == fixture["expected"]["version"]
    assert got["mutations"] == sum(len(batch["ops"]) for batch in fixture["changes"])
    assert got["steps"][-1]["objects"] == fixture["expected"]["objects"]
    assert got["again"] == "stale" and got["gap"] == "gap"
