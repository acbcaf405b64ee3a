"""What the page is sent for each value a worker stores: JSON that keeps the value's type."""

from __future__ import annotations

import json
import math

import pytest

from sharedstate.encoding import MAX_DEPTH, MAX_ITEMS, MAX_STR, encode, encode_list, encode_pairs


def as_json(value):
    """Encode, prove it is strict JSON, and return what a client decodes."""
    return json.loads(json.dumps(encode(value), allow_nan=False))


class Point:
    def __init__(self, x: int, y: int) -> None:
        self.x, self.y = x, y

    def __repr__(self) -> str:
        return f"Point({self.x}, {self.y})"


class BadRepr:
    def __repr__(self) -> str:
        raise ValueError("no repr for you")


def deep(levels: int):
    value: list = []
    for _ in range(levels):
        value = [value]
    return value


def test_the_tutorials_keys_stay_distinguishable():
    d = {1: "1", "2": 2, 0.25: None}
    pairs = json.loads(json.dumps(encode_pairs(d), allow_nan=False))
    assert pairs == [[1, "1"], ["2", 2], [0.25, None]]
    (k1, v1), (k2, v2), (k3, v3) = pairs
    assert (type(k1), type(v1), type(k2), type(v2), type(k3)) == (int, str, str, int, float)


@pytest.mark.parametrize(
    "value, expected",
    [
        (None, None),
        (True, True),
        (1, 1),
        ("1", "1"),
        (0.25, 0.25),
        (2**53 - 1, 2**53 - 1),
        (1.0, {"$type": "float", "repr": "1.0"}),
        (float("nan"), {"$type": "float", "repr": "nan"}),
        (float("inf"), {"$type": "float", "repr": "inf"}),
        (float("-inf"), {"$type": "float", "repr": "-inf"}),
        (2**60, {"$type": "int", "repr": "1152921504606846976"}),
        (-(2**53), {"$type": "int", "repr": "-9007199254740992"}),
        (b"\x00ab", {"$type": "bytes", "repr": "b'\\x00ab'"}),
        (bytearray(b"x"), {"$type": "bytearray", "repr": "bytearray(b'x')"}),
        ((1, "a"), {"$type": "tuple", "items": [1, "a"]}),
        ({3}, {"$type": "set", "items": [3]}),
        (frozenset({"f"}), {"$type": "frozenset", "items": ["f"]}),
        (Point(1, 2), {"$type": "Point", "repr": "Point(1, 2)"}),
        (BadRepr(), {"$type": "BadRepr", "repr": "<unrepresentable: ValueError>"}),
        ([1, "1", 1.0], [1, "1", {"$type": "float", "repr": "1.0"}]),
        ({"a": 1, "b": [2]}, {"a": 1, "b": [2]}),
        ({1: "x", "1": "y"}, {"$type": "dict", "items": [[1, "x"], ["1", "y"]]}),
        (
            {"$type": "float", "repr": "1.0"},
            {"$type": "dict", "items": [["$type", "float"], ["repr", "1.0"]]},
        ),
    ],
    ids=lambda v: type(v).__name__,
)
def test_each_value_is_sent_with_its_type(value, expected):
    assert as_json(value) == expected


def test_a_dict_holding_a_type_key_cannot_pass_for_a_tagged_value():
    lookalike = {"$type": "bytes", "repr": "b'x'"}
    assert as_json(lookalike) != as_json(b"x")
    assert as_json([lookalike])[0]["$type"] == "dict"


def test_true_and_1_and_1_0_differ():
    assert len({json.dumps(encode(v)) for v in (True, 1, 1.0, "1")}) == 4


def test_a_long_string_is_cut_and_says_how_long_it_was():
    out = as_json("x" * (MAX_STR * 5))
    assert out == {"$type": "str", "text": "x" * MAX_STR, "truncated": True, "length": MAX_STR * 5}


def test_a_huge_list_is_cut_and_says_how_long_it_was():
    out = as_json(list(range(100_000)))
    assert out["$type"] == "list" and out["truncated"] is True and out["length"] == 100_000
    assert out["items"] == list(range(MAX_ITEMS))


def test_a_big_dict_and_set_are_cut_too():
    big = as_json({str(i): i for i in range(MAX_ITEMS + 1)})
    assert big["$type"] == "dict" and big["truncated"] and big["length"] == MAX_ITEMS + 1
    assert len(big["items"]) == MAX_ITEMS
    many = as_json(set(range(MAX_ITEMS * 3)))
    assert many["$type"] == "set" and many["truncated"] and len(many["items"]) == MAX_ITEMS


def test_deep_nesting_is_cut_at_the_depth_limit():
    out = as_json(deep(50))
    depth = 0
    while isinstance(out, list):
        (out,) = out
        depth += 1
    assert depth == MAX_DEPTH
    assert out["$type"] == "list" and out["repr"].startswith("[[[")


def test_values_python_cannot_print_cheaply_still_encode():
    assert as_json(10**5000) == {"$type": "int", "repr": "<unrepresentable: ValueError>"}
    assert as_json(Point("p" * 5000, 0))["truncated"] is True


def test_nan_inside_containers_is_strict_json():
    out = as_json({"v": [math.nan, (math.inf,)], 1: {math.nan}})
    assert out["$type"] == "dict"
    assert out["items"][0] == [
        "v",
        [{"$type": "float", "repr": "nan"}, {"$type": "tuple", "items": [{"$type": "float", "repr": "inf"}]}],
    ]


def test_the_shared_list_itself_is_never_cut():
    items = list(range(MAX_ITEMS * 3))
    assert encode_list(items) == items


def test_the_shared_dict_is_pairs_in_insertion_order():
    d = {"z": 1, 2: (1,), None: b"", 1.5: 2**60}
    assert encode_pairs(d) == [
        ["z", 1],
        [2, {"$type": "tuple", "items": [1]}],
        [None, {"$type": "bytes", "repr": "b''"}],
        [1.5, {"$type": "int", "repr": str(2**60)}],
    ]
