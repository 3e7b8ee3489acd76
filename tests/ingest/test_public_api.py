"""The collector's public surface, pinned."""

from __future__ import annotations

import squall.ingest as ingest


def test_exported_names() -> None:
    assert sorted(ingest.__all__) == [
        "Agent",
        "CollectorConfig",
        "Event",
        "build_agent",
        "load_config",
    ]
    assert sorted(ingest.channels.__all__) == [
        "Channel",
        "ChannelStats",
        "FileChannel",
        "MemoryChannel",
        "Transaction",
    ]
    assert sorted(ingest.sinks.__all__) == ["BrokerSink", "FileSink", "NullSink", "Sink"]
    assert sorted(ingest.source.__all__) == ["HttpSource", "Limits"]
    for module in (ingest, ingest.channels, ingest.sinks, ingest.source, ingest.exceptions):
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.{name}"


def test_errors_share_the_root() -> None:
    from squall.exceptions import ConfigError, SquallError

    for name in ingest.exceptions.__all__:
        assert issubclass(getattr(ingest.exceptions, name), SquallError)
    assert issubclass(ingest.exceptions.CollectorConfigError, ConfigError)
    assert ingest.exceptions.ChannelFull("x", 3).retry_after == 3
