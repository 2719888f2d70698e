"""Metric functions: valid events (EVENT_SCHEMA columns) -> one aggregate in the contract's columns.

Applied to a whole static DataFrame they give the final answer; applied to one micro-batch they give
that batch's partial, which `snapshot.merge` folds into the previous snapshot. Every function here
is additive across batches. The funnel is not: Spark only selects its columns (FUNNEL_EVENTS_SQL) and
the cross-batch matching lives in `funnel.py`.

Each metric is one SQL statement over `{events}` (or `{rejected}`): a batch analyses them in the JVM
in one call (`batch.collect_partials` unions them), where Column expressions cost a py4j round trip
each. `metric` runs one of them on a DataFrame (tests, the benchmark's baseline job).
"""

from __future__ import annotations

from pyspark.sql import DataFrame

from ecomdesk.pipeline.sql import run

_PURCHASES_BY_MINUTE = "SELECT *, window(event_time, '1 minute') AS w FROM {events} WHERE event_type = 'purchase'"

SQL = {
    "sales_per_minute": f"""
        SELECT w.start AS window_start, w.end AS window_end, sum(price) AS total_sales, count(1) AS total_orders
        FROM ({_PURCHASES_BY_MINUTE}) GROUP BY w""",
    "avg_ticket_per_user": """
        SELECT user_id, sum(price) / count(1) AS avg_ticket, count(1) AS orders, sum(price) AS total_spent
        FROM {events} WHERE event_type = 'purchase' GROUP BY user_id""",
    "views_by_category": """
        SELECT category, count(1) AS views FROM {events} WHERE event_type = 'page_view' GROUP BY category""",
    # views of every product; the reader sorts and keeps the top N
    "top_products": """
        SELECT product_id, count(1) AS views FROM {events} WHERE event_type = 'page_view' GROUP BY product_id""",
    "sales_by_product_per_minute": f"""
        SELECT product_id, w.start AS window_start, w.end AS window_end, count(1) AS orders, sum(price) AS revenue
        FROM ({_PURCHASES_BY_MINUTE}) GROUP BY product_id, w""",
}
ADDITIVE = tuple(SQL)

# the only columns the cross-batch funnel needs; (topic, partition, offset) identify a cart
FUNNEL_EVENTS_SQL = """
    SELECT user_id, product_id, event_type, unix_micros(event_time) AS event_us, topic, partition, offset
    FROM {events}"""
QUARANTINE_COUNTS_SQL = "SELECT reason, count(1) AS count FROM {rejected} GROUP BY reason"


def metric(name: str, events: DataFrame) -> DataFrame:
    """One additive aggregate (a key of SQL) of the events."""
    return run(SQL[name], events=events)

