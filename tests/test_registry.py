"""Which tasks and params a client may ask for: anything else is refused with the param named."""

from __future__ import annotations

import pytest

from workers.registry import TASKS, ParamError, get_task


def test_every_task_the_issue_lists_is_registered():
    assert set(TASKS) == {
        "append_pid",
        "counter",
        "cpu",
        "sleep",
        "crash",
        "burst",
        "printer",
        "hold_lock",
        "deadlock",
        "odd_values",
        "producer",
        "consumer",
        "barrier",
        "event_wait",
        "event_set",
        "semaphore",
    }


def test_missing_params_get_their_defaults():
    assert get_task("append_pid").validate(None) == {"interval": 1.0}
    assert get_task("counter").validate({"n": 5}) == {"n": 5, "lock": False}
    assert get_task("sleep").validate({"seconds": 2}) == {"seconds": 2.0}  # an int is fine for a float


def test_counter_with_lock_uses_the_shared_counter_lock():
    task = get_task("counter")
    assert task.locks(task.validate({"lock": True})) == {"lock": "counter"}
    assert task.locks(task.validate({})) == {"lock": None}
    assert task.shared(task.validate({"lock": True})) == {"lock": ("Lock", "lock:counter", ())}


def test_tasks_declare_the_shared_objects_they_use():
    producer = get_task("producer")
    assert producer.shared(producer.validate({"queue": "jobs", "maxsize": 4})) == {
        "q": ("Queue", "Queue:jobs", (4,))
    }
    barrier = get_task("barrier")
    assert barrier.shared(barrier.validate({"parties": 2})) == {"b": ("Barrier", "Barrier:meet", (2,))}


@pytest.mark.parametrize(
    "task, params, named",
    [
        ("append_pid", {"interval": "1"}, "'interval' must be float, not str"),
        ("append_pid", {"interval": True}, "'interval' must be float, not bool"),
        ("append_pid", {"interval": 0.001}, "'interval' must be >= 0.01"),
        ("append_pid", {"interval": 3601}, "'interval' must be <= 3600"),
        ("append_pid", {"interval": None}, "'interval' must be float, not NoneType"),
        ("append_pid", {"bogus": 1}, "unknown param 'bogus' for task 'append_pid'"),
        ("counter", {"n": True}, "'n' must be int, not bool"),
        ("counter", {"n": 1.0}, "'n' must be int, not float"),
        ("counter", {"n": 0}, "'n' must be >= 1"),
        ("counter", {"n": 10**30}, "'n' must be <= 1000000"),
        ("counter", {"lock": 1}, "'lock' must be bool, not int"),
        ("sleep", {"seconds": float("nan")}, "'seconds' must be a number, not NaN"),
        ("sleep", {"seconds": float("inf")}, "'seconds' must be <= 3600"),
        ("sleep", {"seconds": -1}, "'seconds' must be >= 0"),
        ("sleep", {"seconds": 10**400}, "'seconds' is out of range"),
        ("burst", {"target": "set"}, "'target' must be one of dict, list"),
        ("hold_lock", {"lock": "no spaces"}, "'lock' must be 1-64 letters"),
        ("hold_lock", {"lock": "x" * 65}, "'lock' must be 1-64 letters"),
        ("deadlock", {"first": ""}, "'first' must be 1-64 letters"),
        ("sleep", [1], "'params' must be an object"),
        ("sleep", {1: 2}, "unknown param '1'"),
    ],
)
def test_bad_params_are_refused_naming_the_param(task, params, named):
    with pytest.raises(ParamError) as info:
        get_task(task).validate(params)
    assert named in str(info.value)


@pytest.mark.parametrize("name", ["nope", "", "__import__", "os.system", 3, None, ["sleep"]])
def test_unknown_tasks_are_refused(name):
    with pytest.raises(ParamError, match="unknown task"):
        get_task(name)


def test_an_unknown_task_message_is_short_and_lists_the_known_ones():
    with pytest.raises(ParamError) as info:
        get_task("x" * 10_000)
    message = str(info.value)
    assert len(message) < 300 and "append_pid" in message


def test_every_param_default_passes_its_own_check():
    for task in TASKS.values():
        defaults = {name: param.default for name, param in task.params.items()}
        assert task.validate(defaults) == defaults
        assert task.describe()["name"] == task.name
