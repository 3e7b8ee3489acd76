"""Tuple: values with named fields and where they came from."""

from __future__ import annotations

import pytest

from squall.compute import Tuple


def make(roots: dict[int, int] | None = None) -> Tuple:
    return Tuple(["GET", "/a", 200], "default", "parse", 3, {"method": 0, "path": 1, "s": 2}, roots)


def test_access_by_name_and_position() -> None:
    tup = make()
    assert (tup["method"], tup["path"], tup["s"]) == ("GET", "/a", 200)
    assert (tup[0], tup[-1]) == ("GET", 200)
    assert len(tup) == 3 and tup.fields == ("method", "path", "s")
    assert (tup.stream, tup.source, tup.source_task) == ("default", "parse", 3)


def test_unknown_field_names_the_declared_ones() -> None:
    with pytest.raises(
        KeyError, match=r"'parse' declares no field 'status'.*\['method', 'path', 's'\]"
    ):
        make()["status"]


def test_message_id_is_a_copy_of_the_roots() -> None:
    assert make().message_id == {}
    tracked = make({11: 22})
    ids = tracked.message_id
    assert ids == {11: 22}
    ids[11] = 0  # type: ignore[index]
    assert tracked.message_id == {11: 22}


def test_repr_says_where_it_came_from() -> None:
    assert repr(make()) == (
        "Tuple(source='parse', task=3, stream='default', values=['GET', '/a', 200])"
    )
