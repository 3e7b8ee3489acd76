"""Config: Storm's defaults, and bad values rejected with the setting named."""

from __future__ import annotations

from typing import Any

import pytest

from squall.compute import Config, TopologyError


def test_defaults() -> None:
    c = Config()
    assert (c.message_timeout, c.max_spout_pending, c.acking) == (30.0, 10_000, True)
    assert c.workers == 1


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"message_timeout": 0}, "message_timeout"),
        ({"message_timeout": -1}, "message_timeout"),
        ({"max_spout_pending": 0}, "max_spout_pending"),
        ({"spout_batch": 0}, "spout_batch"),
        ({"workers": 0}, "workers"),
        ({"workers": 257}, "workers"),  # a root id has one byte for its worker
    ],
)
def test_bad_values_name_the_setting(kwargs: dict[str, Any], named: str) -> None:
    with pytest.raises(TopologyError, match=named):
        Config(**kwargs)


def test_unbounded_pending_is_allowed() -> None:
    assert Config(max_spout_pending=None).max_spout_pending is None
