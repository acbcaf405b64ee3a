"""Shared objects of every kind, in the browser: a Queue's items move, a Barrier fills, a Semaphore's holders.

Real workers run the producer, consumer, barrier and semaphore tasks against the server's
Manager; headless Chromium shows one panel per object, built from the page's kind registry.
Each test names its own objects, so that the module's one server can serve them all.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

import pytest
from browser_support import LiveServer, live_server  # noqa: F401 -- fixtures
from playwright.sync_api import Locator, Page, expect
from test_browser import DESKTOP, PHONE, Dashboard, clean_server, open_page  # noqa: F401 -- the dashboard's fixtures

pytestmark = pytest.mark.browser


@pytest.fixture
def server_and_page(clean_server, open_page) -> tuple[LiveServer, Callable[..., Dashboard]]:  # noqa: F811
    """The module's clean server, and a function that opens its dashboard (live) at a viewport."""
    return clean_server, lambda viewport=DESKTOP: open_page(clean_server.url, viewport=viewport)


def fresh(prefix: str) -> str:
    """A name no other test uses for its shared object."""
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def panel(page: Page, kind: str, name: str) -> Locator:
    """The panel of the task's shared object ``name`` of ``kind`` (its id is ``KIND:NAME``)."""
    return page.locator(f'#objects .object-panel[data-object="{kind}:{name}"]')


def chips(box: Locator, line: str) -> Locator:
    """The PID chips on one line of a panel (``holders``, ``waiters``, ``blocked``)."""
    return box.locator(f".obj-line.{line} .pid-chip")


def test_producer_items_wait_in_the_queue_until_a_consumer_takes_them(server_and_page):
    server, open_dashboard = server_and_page
    dash = open_dashboard()
    page = dash.page
    name = fresh("jobs")
    # the spawn form shows the task's str, int and float params
    page.locator("#spawn-task").select_option("producer")
    params = page.locator("#spawn-params")
    expect(params.locator("input[name]")).to_have_count(4)
    params.locator('input[name="queue"][type="text"]').fill(name)
    params.locator('input[name="n"][type="number"][step="1"]').fill("3")
    params.locator('input[name="rate"][type="number"][step="any"]').fill("0")
    producer = int(dash.spawn())

    queue = panel(page, "Queue", name)
    items = queue.locator(".obj-list .vrow:visible")
    expect(queue.locator(".count")).to_have_text("3 waiting of max 10")
    expect(items.locator(".val")).to_have_text([f"'job {i} from {producer}'" for i in range(3)])
    expect(items.locator(".who")).to_have_text([f"put by {producer}"] * 3)
    expect(queue.locator(".obj-recent .op").first).to_have_text(f"{producer} put 'job 2 from {producer}'")

    (consumer,) = server.spawn(1, "consumer", queue=name, rate=0.0)
    expect(queue.locator(".count")).to_have_text("0 waiting of max 10")
    expect(items).to_have_count(0)
    expect(queue.locator(".obj-list + .empty")).to_be_visible()
    expect(queue.locator(".obj-recent")).to_contain_text(f"{consumer} got 'job 2 from {producer}'")
    # the queue is empty: the consumer waits in get(), and both its chip and its worker row say so
    expect(chips(queue, "blocked")).to_have_text([re.compile(rf"PID {consumer}\s*get\(\)")])
    expect(page.locator(f'#workers tr[data-pid="{consumer}"]')).to_contain_text(
        f"Queue '{name}': blocked in get()"
    )

    (again,) = server.spawn(1, "producer", queue=name, n=1, rate=0.0)
    expect(queue.locator(".obj-recent")).to_contain_text(f"{again} put 'job 0 from {again}'")
    expect(queue.locator(".obj-recent")).to_contain_text(f"{consumer} got 'job 0 from {again}'")
    expect(chips(queue, "blocked")).to_have_text([re.compile(rf"PID {consumer}")])  # waiting for the next


def test_a_barrier_fills_x_of_n_then_passes_when_the_last_party_arrives(server_and_page):
    server, open_dashboard = server_and_page
    page = open_dashboard().page
    name = fresh("meet")
    first = server.spawn(2, "barrier", barrier=name, parties=3, rounds=1, pause=0.0)

    barrier = panel(page, "Barrier", name)
    expect(barrier.locator(".obj-figure .big")).to_have_text("2 of 3")
    expect(barrier.locator(".seat.full")).to_have_count(2)
    expect(barrier.locator(".seat")).to_have_count(3)
    for pid in first:
        expect(chips(barrier, "waiters").filter(has_text=f"PID {pid}")).to_have_count(1)
    expect(barrier.locator(".obj-line.barrier-status")).to_contain_text("0 times")

    (last,) = server.spawn(1, "barrier", barrier=name, parties=3, rounds=1, pause=0.0)
    expect(barrier.locator(".obj-line.barrier-status")).to_contain_text("1 time")
    expect(barrier.locator(".obj-figure .big")).to_have_text("0 of 3")
    expect(chips(barrier, "waiters")).to_have_count(0)
    expect(barrier.locator(".obj-recent .op").first).to_have_text(f"{last} all arrived: passed")


def test_a_semaphore_shows_its_holders_and_who_waits_for_a_slot(server_and_page):
    server, open_dashboard = server_and_page
    page = open_dashboard().page
    name = fresh("pool")
    holders = server.spawn(2, "semaphore", semaphore=name, slots=2, seconds=60.0)

    semaphore = panel(page, "Semaphore", name)
    expect(semaphore.locator(".obj-figure .big")).to_have_text("2 of 2")
    expect(semaphore.locator(".count")).to_have_text("0 of 2 free")
    expect(chips(semaphore, "holders")).to_have_count(2)
    for pid in holders:
        expect(chips(semaphore, "holders").filter(has_text=f"PID {pid}")).to_have_count(1)

    (waiter,) = server.spawn(1, "semaphore", semaphore=name, slots=2, seconds=60.0)
    expect(chips(semaphore, "waiters")).to_have_text([f"PID {waiter}"])
    expect(page.locator(f'#workers tr[data-pid="{waiter}"]')).to_contain_text("waiting to acquire")

    # a holder killed inside: it is shown as ended, and Release lets the waiter in
    dead = holders[0]
    server.call("DELETE", f"/api/workers/{dead}?signal=KILL")
    expect(chips(semaphore, "holders").filter(has_text=f"PID {dead}")).to_contain_text("ended")
    # a page opened now builds the same panel from its snapshot, and its Release reaches both
    later = panel(open_dashboard().page, "Semaphore", name)
    expect(chips(later, "holders").filter(has_text=f"PID {dead}")).to_contain_text("ended")
    expect(chips(later, "waiters")).to_have_text([f"PID {waiter}"])
    later.get_by_role("button", name=f"Release Semaphore '{name}' held by {dead}").click()
    for box in (semaphore, later):
        expect(chips(box, "holders").filter(has_text=f"PID {dead}")).to_have_count(0)
        expect(chips(box, "holders").filter(has_text=f"PID {waiter}")).to_have_count(1)
        expect(chips(box, "waiters")).to_have_count(0)
    expect(semaphore.locator(".obj-recent")).to_contain_text(f"released for dead {dead}")


def test_an_event_holds_its_waiters_until_another_worker_sets_it(server_and_page):
    server, open_dashboard = server_and_page
    page = open_dashboard().page
    name = fresh("go")
    waiters = server.spawn(2, "event_wait", event=name, timeout=60.0)

    event = panel(page, "Event", name)
    expect(event.locator(".flag")).to_have_text("not set")
    expect(chips(event, "waiters")).to_have_count(2)
    for pid in waiters:
        expect(page.locator(f'#workers tr[data-pid="{pid}"]')).to_contain_text(f"Event '{name}': in wait()")

    (setter,) = server.spawn(1, "event_set", event=name, delay=0.0)
    expect(event.locator(".flag")).to_have_text("SET")
    expect(chips(event, "waiters")).to_have_count(0)
    expect(event.locator(".obj-recent")).to_contain_text(f"{setter} set()")


def test_object_panels_fit_a_phone_screen(server_and_page):
    server, open_dashboard = server_and_page
    page = open_dashboard(PHONE).page
    names = {kind: fresh(kind.lower()) for kind in ("Queue", "Barrier", "Semaphore")}
    server.spawn(1, "producer", queue=names["Queue"], n=2, rate=0.0)
    server.spawn(1, "barrier", barrier=names["Barrier"], parties=3, rounds=1, pause=0.0)
    server.spawn(1, "semaphore", semaphore=names["Semaphore"], slots=2, seconds=60.0)
    for kind, name in names.items():
        box = panel(page, kind, name)
        expect(box).to_be_visible()
        bounds = box.bounding_box()
        assert bounds and bounds["x"] >= 0 and bounds["x"] + bounds["width"] <= PHONE["width"], (kind, bounds)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_named_locks_stay_in_the_locks_table_and_get_no_panel_of_their_own(server_and_page):
    server, open_dashboard = server_and_page
    before, after = fresh("early"), fresh("late")
    (early,) = server.spawn(1, "hold_lock", lock=before, seconds=60.0)
    page = open_dashboard().page  # `before` comes in the snapshot, `after` as a create op
    (late,) = server.spawn(1, "hold_lock", lock=after, seconds=60.0)
    for name, holder in ((before, early), (after, late)):
        expect(page.locator(f'#locks tr[data-lock="{name}"]')).to_contain_text(f"PID {holder}")
    name = fresh("pool")
    server.spawn(1, "semaphore", semaphore=name, slots=1, seconds=60.0)
    expect(panel(page, "Semaphore", name)).to_be_visible()  # drawn after both locks' ops
    expect(page.locator('#objects .object-panel[data-kind="Lock"]')).to_have_count(0)
