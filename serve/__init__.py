"""The apply stage: stores (Druid, embedded DuckDB), the query API and the dashboard.

open_store(url) -> Store          duckdb://PATH (.duckdb_store) or druid://HOST:PORT (.druid_store)
parse_query(body) -> Query        the query API's vocabulary (.query)
create_app(store) -> FastAPI      POST /api/v1/query, GET /healthz, GET / (.app)
Loader(broker, store).start()     logs.metrics -> DuckDB, exactly once (.loader)
"""

from __future__ import annotations

from squall.serve.app import create_app
from squall.serve.loader import Loader
from squall.serve.query import Query, parse_query
from squall.serve.service import ServeStage
from squall.serve.store import OffsetStore, Store, open_store

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
