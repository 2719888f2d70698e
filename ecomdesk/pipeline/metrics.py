"""Metric functions: valid events (EVENT_SCHEMA columns) -> one aggregate in the contract's columns.

Applied to a whole static DataFrame they give the final answer; applied to one micro-batch they give
that batch's partial, which `snapshot.merge` folds into the previous snapshot. Every function here
is additive across batches except the funnel, whose cross-batch matching lives in `funnel.py`.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from ecomdesk.data.contract import FUNNEL_WINDOW_SECONDS

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
    return events.where(F.col("event_type").isin("add_to_cart", "purchase")).select(
        "user_id", "product_id", "event_type", "event_time", "topic", "partition", "offset"
    )


def _converted_carts(events: DataFrame) -> DataFrame:
    carts = events.where(F.col("event_type") == "add_to_cart").alias("c")
    buys = events.where(F.col("event_type") == "purchase").alias("p")
    lag = F.unix_micros(F.col("p.event_time")) - F.unix_micros(F.col("c.event_time"))
    matched = carts.join(
        buys,
        (F.col("c.user_id") == F.col("p.user_id")) & (F.col("c.product_id") == F.col("p.product_id"))
        & (lag >= 0) & (lag <= FUNNEL_WINDOW_SECONDS * 1_000_000),
    )
    return matched.select("c.topic", "c.partition", "c.offset", "c.event_time").distinct()


def conversion_funnel(events: DataFrame) -> DataFrame:
    """Per minute: carts and conversions counted at the cart's minute, purchases at the purchase's."""
    keys = ["window_start", "window_end"]
    carts = _minute(events.where(F.col("event_type") == "add_to_cart")).groupBy(keys).agg(
        F.count(F.lit(1)).alias("carts"))
    buys = _minute(_orders(events)).groupBy(keys).agg(F.count(F.lit(1)).alias("purchases"))
    conv = _minute(_converted_carts(events)).groupBy(keys).agg(F.count(F.lit(1)).alias("converted"))
    out = carts.join(buys, keys, "full").join(conv, keys, "full")
    out = out.na.fill(0, ["carts", "purchases", "converted"])
    return out.select(*keys, "carts", "purchases", "converted", _rate())


def conversion_overall(events: DataFrame) -> DataFrame:
    counts = events.agg(
        F.count(F.when(F.col("event_type") == "add_to_cart", 1)).alias("carts"),
        F.count(F.when(F.col("event_type") == "purchase", 1)).alias("purchases"),
    )
    conv = _converted_carts(events).agg(F.count(F.lit(1)).alias("converted"))
    return counts.crossJoin(conv).select("carts", "purchases", "converted", _rate())


def _rate():
    """converted / carts; 0 when there are no carts (a rate, never a division error)."""
    return F.when(F.col("carts") > 0, F.col("converted") / F.col("carts")).otherwise(F.lit(0.0)).alias("rate")


def quarantine_counts(rejected: DataFrame) -> DataFrame:
    return rejected.groupBy("reason").agg(F.count(F.lit(1)).alias("count"))


ADDITIVE = {
    "sales_per_minute": sales_per_minute,
    "avg_ticket_per_user": avg_ticket_per_user,
    "views_by_category": views_by_category,
    "top_products": top_products,
    "sales_by_product_per_minute": sales_by_product_per_minute,
}
