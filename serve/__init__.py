"""The apply stage: stores (Druid, embedded DuckDB), the query API and the dashboard.

open_store(url) -> Store          duckdb://PATH (serve.duckdb_store); Druid later
parse_query(body) -> Query        the query API's vocabulary (serve.query)
create_app(store) -> FastAPI      POST /api/v1/query, GET /healthz, GET / (serve.app)
Loader(broker, store).start()     logs.metrics -> store, exactly once (serve.loader)
"""

from __future__ import annotations

from serve.app import create_app
from serve.loader import Loader
from serve.query import Query, parse_query
from serve.service import ServeStage
from serve.store import OffsetStore, Store, open_store

__all__ = [
    "Loader",
    "OffsetStore",
    "Query",
    "ServeStage",
    "Store",
    "create_app",
    "open_store",
    "parse_query",
]
