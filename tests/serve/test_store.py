"""serve.store.open_store: which store, and which Druid datasource, a URL and the
settings give (no connection is made by opening a Druid store)."""

from __future__ import annotations

import pytest

from squall.exceptions import ConfigError
from squall.serve.druid_store import DruidStore
from squall.serve.store import open_store


def test_druid_takes_the_datasource_of_the_url_then_the_setting_then_the_default() -> None:
    named = open_store("druid://127.0.0.1:8888/from_url", datasource="from_setting")
    setting = open_store("druid://127.0.0.1:8888", datasource="from_setting")
    default = open_store("druid://127.0.0.1:8888")
    assert isinstance(named, DruidStore) and isinstance(setting, DruidStore)
    assert isinstance(default, DruidStore)
    assert (named.datasource, setting.datasource, default.datasource) == (
        "from_url",
        "from_setting",
        "log_metrics",
    )


@pytest.mark.parametrize("url", ["druid", "druid://", "mysql://db", "druid://host:port"])
def test_a_store_url_that_names_nothing_usable_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError):
        open_store(url)
