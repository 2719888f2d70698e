"""Parse Kafka records once and split them into valid events and quarantined records with a reason.

Every JSON field is read as a string first and converted with try_* functions, so that no record
can fail the job (ANSI mode) and every rejection gets a precise reason instead of a null row.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from ecomdesk.data.contract import EVENT_SCHEMA, EVENT_TYPES, QUARANTINE_SCHEMA

JSON_FIELDS = ("user_id", "product_id", "category", "event_type", "price", "timestamp", "store_id",
               "store_type", "city", "province", "location")
_CORRUPT = "_corrupt_record"
_LOCATION_SCHEMA = T.StructType([T.StructField("lat", T.StringType()), T.StructField("lon", T.StringType())])
JSON_SCHEMA = T.StructType(
    [T.StructField(f, T.StringType()) for f in JSON_FIELDS] + [T.StructField(_CORRUPT, T.StringType())]
)


def _blank(c: Column) -> Column:
    return c.isNull() | (F.trim(c) == "")


def _reason(j: Column, ts: Column, price: Column, topic_prefix: str) -> Column:
    """The first rule a record breaks, or null for a valid event (checked in this order)."""
    topic_of = F.create_map(*[x for et, (topic, _) in EVENT_TYPES.items()
                              for x in (F.lit(et), F.lit(topic_prefix + topic))])
    etype = F.trim(j["event_type"])
    return (
        F.when(j.isNull() | j[_CORRUPT].isNotNull(), "malformed_json")
        .when(_blank(j["user_id"]), "missing_user_id")
        .when(_blank(j["event_type"]), "missing_event_type")
        .when(_blank(j["timestamp"]), "missing_timestamp")
        .when(~etype.isin(*EVENT_TYPES), "unknown_event_type")
        .when(topic_of[etype] != F.col("topic"), "wrong_topic")
        .when(_blank(j["product_id"]), "missing_product_id")
        .when(ts.isNull(), "unparseable_timestamp")
        .when(_blank(j["price"]), "missing_price")
        .when(~_blank(j["price"]) & price.isNull(), "non_numeric_price")
        .when(price < 0, "negative_price")
        .when((etype == "page_view") & _blank(j["category"]), "missing_category")
    )


def parse_records(kafka: DataFrame, topic_prefix: str = "") -> DataFrame:
    """Kafka rows (value, topic, partition, offset, timestamp) -> one row per record with `reason`
    (null for a valid event) and `raw` (the record's text, kept for rejected records only).

    `topic_prefix` is the prefix of the three topic names (isolated runs share one broker).
    """
    raw = F.col("value").cast("string")
    j = F.from_json(raw, JSON_SCHEMA, {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": _CORRUPT})
    parsed = kafka.select(
        raw.alias("raw"), "topic", F.col("partition").cast("int").alias("partition"),
        F.col("offset").cast("long").alias("offset"), F.col("timestamp").alias("kafka_timestamp"),
        j.alias("j"),
    )
    ts = F.try_to_timestamp(F.trim(F.col("j.timestamp")))
    price = F.col("j.price").try_cast("double")
    # one small parse of the location object instead of one get_json_object per coordinate;
    # a location that is not an object gives null coordinates either way
    loc = F.from_json(F.col("j.location"), _LOCATION_SCHEMA)
    out = parsed.select(
        "raw", "topic", "partition", "offset", "kafka_timestamp",
        F.trim("j.user_id").alias("user_id"), F.trim("j.product_id").alias("product_id"),
        F.trim("j.category").alias("category"), F.trim("j.event_type").alias("event_type"),
        price.alias("price"), ts.alias("event_time"),
        F.col("j.store_id").alias("store_id"), F.col("j.store_type").alias("store_type"),
        F.col("j.city").alias("city"), F.col("j.province").alias("province"),
        loc["lat"].try_cast("double").alias("lat"), loc["lon"].try_cast("double").alias("lon"),
        _reason(F.col("j"), ts, price, topic_prefix).alias("reason"),
    )
    # the raw value is kept for rejected records only: it is most of a record's bytes
    return out.withColumn("raw", F.when(F.col("reason").isNotNull(), F.col("raw")))


def valid_events(parsed: DataFrame) -> DataFrame:
    """Valid events in the contract's EVENT_SCHEMA columns, plus `kind` (raw dir) and `event_date`."""
    kind = F.create_map(*[x for et, (_, d) in EVENT_TYPES.items() for x in (F.lit(et), F.lit(d))])
    return parsed.where(F.col("reason").isNull()).select(
        *EVENT_SCHEMA.names,
        kind[F.col("event_type")].alias("kind"),
        F.date_format("event_time", "yyyy-MM-dd").alias("event_date"),
    )


def quarantined(parsed: DataFrame) -> DataFrame:
    """Rejected records in the contract's QUARANTINE_SCHEMA columns, plus `ingest_date`."""
    return parsed.where(F.col("reason").isNotNull()).select(
        *QUARANTINE_SCHEMA.names, F.date_format("kafka_timestamp", "yyyy-MM-dd").alias("ingest_date"),
    )


def event_struct() -> T.StructType:
    """EVENT_SCHEMA as a Spark schema (for building event DataFrames outside Kafka, e.g. tests)."""
    spark_type = {"string": T.StringType(), "double": T.DoubleType(), "int32": T.IntegerType(),
                  "int64": T.LongType(), "timestamp[us, tz=UTC]": T.TimestampType()}
    return T.StructType([T.StructField(f.name, spark_type[str(f.type)]) for f in EVENT_SCHEMA])
