"""The apply stage: stores (Druid, embedded DuckDB), the query API and the dashboard."""
