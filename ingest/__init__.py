"""Flume-style HTTP log collector: source -> interceptors -> channel -> sink runner.

from squall.ingest import build_agent, load_config
agent = build_agent(load_config("collector.toml", load_settings()))
# agent.app is the FastAPI app; its lifespan runs the sink runner
"""

from squall.ingest.agent import Agent, build_agent
from squall.ingest.config import CollectorConfig, load_config
from squall.ingest.event import Event

__all__ = ["Agent", "CollectorConfig", "Event", "build_agent", "load_config"]
