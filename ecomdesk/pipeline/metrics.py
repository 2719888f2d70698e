"""Metric functions: valid events (EVENT_SCHEMA columns) -> one aggregate in the contract's columns.

Applied to a whole static DataFrame they give the final answer; applied to one micro-batch they give
that batch's partial, which `snapshot.merge` folds into the previous snapshot. Every function here
is additive across batches. The funnel is not: Spark only selects its columns (`funnel_events`) and
the cross-batch matching lives in `funnel.py`.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

MINUTE = "1 minute"


def _orders(events: DataFrame) -> DataFrame:
    return events.where(F.col("event_type") == "purchase")


def _minute(df: DataFrame) -> DataFrame:
    w = F.window("event_time", MINUTE)
    return df.withColumn("window_start", w.start).withColumn("window_end", w.end)


def sales_per_minute(events: DataFrame) -> DataFrame:
    return (
        _minute(_orders(events))
        .groupBy("window_start", "window_end")
        .agg(F.sum("price").alias("total_sales"), F.count(F.lit(1)).alias("total_orders"))
    )


def avg_ticket_per_user(events: DataFrame) -> DataFrame:
    return (
        _orders(events)
        .groupBy("user_id")
        .agg(F.count(F.lit(1)).alias("orders"), F.sum("price").alias("total_spent"))
        .select("user_id", (F.col("total_spent") / F.col("orders")).alias("avg_ticket"), "orders",
                "total_spent")
    )


def views_by_category(events: DataFrame) -> DataFrame:
    views = events.where(F.col("event_type") == "page_view")
    return views.groupBy("category").agg(F.count(F.lit(1)).alias("views"))


def top_products(events: DataFrame) -> DataFrame:
    """Views of every product; the reader sorts and keeps the top N."""
    views = events.where(F.col("event_type") == "page_view")
    return views.groupBy("product_id").agg(F.count(F.lit(1)).alias("views"))


def sales_by_product_per_minute(events: DataFrame) -> DataFrame:
    return (
        _minute(_orders(events))
        .groupBy("product_id", "window_start", "window_end")
        .agg(F.count(F.lit(1)).alias("orders"), F.sum("price").alias("revenue"))
    )


def funnel_events(events: DataFrame) -> DataFrame:
    """The only columns the cross-batch funnel needs; (partition, offset, topic) identify a cart."""
    return events.select(
        "user_id", "product_id", "event_type", "event_time", "topic", "partition", "offset"
    )


def quarantine_counts(rejected: DataFrame) -> DataFrame:
    return rejected.groupBy("reason").agg(F.count(F.lit(1)).alias("count"))


ADDITIVE = {
    "sales_per_minute": sales_per_minute,
    "avg_ticket_per_user": avg_ticket_per_user,
    "views_by_category": views_by_category,
    "top_products": top_products,
    "sales_by_product_per_minute": sales_by_product_per_minute,
}
