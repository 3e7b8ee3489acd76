"""Flume-style HTTP log collector: source -> interceptors -> channel -> sink runner."""
