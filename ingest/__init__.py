"""Flume-style HTTP log collector: source -> interceptors -> channel -> sink runner.

from ingest import build_agent, load_config
agent = build_agent(load_config("collector.toml", load_settings()))
# agent.app is the FastAPI app; its lifespan runs the sink runner
"""

from ingest.agent import Agent, build_agent
from ingest.config import CollectorConfig, load_config
from ingest.event import Event

__all__ = ["Agent", "CollectorConfig", "Event", "build_agent", "load_config"]
