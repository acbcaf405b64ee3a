"""The mergers of the program's own Values, Arrays and shared memory blocks, and NativePace, which
tells each process whether a page is open (so that it reads values again)."""

from __future__ import annotations

import pytest

from webapp.native.memory import merge_shareable_list, merge_shared_memory
from webapp.native.pace import NativePace
from webapp.native.values import merge_array, merge_value

pytestmark = pytest.mark.fast


def test_a_value_is_the_freshest_reading_of_any_process_and_the_maker_says_raw():
    facts = {
        10: {"typecode": "d", "raw": True, "value": 1.0, "at": 100.0},  # the maker
        11: {"typecode": "d", "value": 2.5, "at": 102.0},  # a child that received it: no "raw"
        12: {"typecode": "d", "value": 2.0, "at": 101.0},
    }
    assert merge_value(facts, {}, set()) == {"typecode": "d", "raw": True, "value": 2.5}
    facts[10] = {"typecode": "d", "raw": True, "value": 3.0, "at": 103.0}  # read at the maker's exit
    assert merge_value(facts, {}, {11, 12})["value"] == {"$type": "float", "repr": "3.0"}  # as a Manager's
    assert merge_value({11: facts[11]}, {}, set())["raw"] is None  # only a receiver told: unknown
    assert merge_value({}, {}, set()) == {"typecode": "?", "raw": None, "value": None}


def test_an_array_says_its_length_beside_its_first_items_and_a_char_array_its_text():
    facts = {10: {"typecode": "i", "raw": False, "items": list(range(1000)), "length": 5000, "at": 1.0}}
    value = merge_array(facts, {}, set())
    assert value["items"] == list(range(1000)) and value["length"] == 5000 and "text" not in value
    chars = {
        10: {"typecode": "c", "raw": True, "items": [104, 105, 0], "length": 3, "text": "b'hi'", "at": 1.0}
    }
    assert merge_array(chars, {}, set())["text"] == "b'hi'"
    bad = {10: {"typecode": "i", "items": "not a list", "length": "x", "at": 1.0}}
    assert merge_array(bad, {}, set()) == {"typecode": "i", "raw": None, "items": [], "length": 0}


def test_a_block_lists_who_mapped_it_and_who_has_it_open():
    facts = {
        10: {"name": "psm_1", "size": 4096, "open": True, "unlinked": False},
        11: {"name": "psm_1", "size": 4096, "open": True, "unlinked": False},  # ended with it open
        12: {"name": "psm_1", "size": 4096, "open": False, "unlinked": True, "manager": True},
    }
    value = merge_shared_memory(facts, {}, {11})
    assert value == {
        "name": "psm_1",
        "size": 4096,
        "mapped_by": [10, 11, 12],
        "open_in": [10],
        "unlinked": True,
        "manager": True,
    }


def test_a_shareable_list_shows_the_freshest_items():
    facts = {
        10: {"name": "psm_2", "size": 91, "open": True, "items": ["0", "1"], "length": 2, "at": 5.0},
        11: {"name": "psm_2", "size": 91, "open": True, "items": ["0", "42"], "length": 2, "at": 6.0},
    }
    value = merge_shareable_list(facts, {}, set())
    assert value["items"] == ["0", "42"] and value["length"] == 2 and value["open_in"] == [10, 11]


def test_pace_is_told_once_per_change_and_to_every_slow_process_when_a_page_joins():
    sent: list[tuple[int, dict]] = []
    watching = [False]
    pace = NativePace(
        lambda pid, m: sent.append((pid, m)) or True, lambda: watching[0], lambda pid: pid == 99
    )
    pace.heard(10)
    pace.heard(10)
    pace.heard(11)
    pace.heard(99)  # a Manager's process: ManagerJournals tells it
    assert sent == [(10, {"t": "pace", "watched": False}), (11, {"t": "pace", "watched": False})]
    sent.clear()
    pace.catch_up()  # nobody watches: nothing to tell
    assert sent == []
    watching[0] = True
    pace.ended({11})
    pace.catch_up()  # a page joins: every slow live process reads its values again, now
    assert sent == [(10, {"t": "pace", "watched": True})]
    pace.heard(10)
    watching[0] = False
    pace.heard(10)  # the page left: told on its next message
    assert sent[1:] == [(10, {"t": "pace", "watched": False})]
