"""Parse Kafka records once and split them into valid events and quarantined records with a reason.

Every JSON field is read as a string first and converted with try_* functions, so that no record
can fail the job (ANSI mode) and every rejection gets a precise reason instead of a null row.
"""

from __future__ import annotations

from pyspark.sql import DataFrame

from ecomdesk.data.contract import EVENT_SCHEMA, EVENT_TYPES, QUARANTINE_SCHEMA
from ecomdesk.pipeline.sql import run

JSON_FIELDS = ("user_id", "product_id", "category", "event_type", "price", "timestamp", "store_id",
               "store_type", "city", "province", "location")
_CORRUPT = "_corrupt_record"


def _sql_str(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _map(pairs) -> str:
    return "map(" + ", ".join(f"{_sql_str(k)}, {_sql_str(v)}" for k, v in pairs) + ")"


def _blank(field: str) -> str:
    return f"(j.{field} IS NULL OR trim(j.{field}) = '')"


_JSON_DDL = ", ".join(f"{f} STRING" for f in JSON_FIELDS) + f", {_CORRUPT} STRING"
_JSON_OPTIONS = _map([("mode", "PERMISSIVE"), ("columnNameOfCorruptRecord", _CORRUPT)])


def parse_sql(topic_prefix: str = "") -> str:
    """The parse as one SQL statement over `{kafka}`: analysed in the JVM in one call, where building it
    from Column objects took hundreds of py4j round trips per batch. Rules in the order they are checked."""
    topic_of = _map((et, topic_prefix + topic) for et, (topic, _) in EVENT_TYPES.items())
    known = ", ".join(map(_sql_str, EVENT_TYPES))
    reason = f"""CASE
        WHEN j IS NULL OR j.{_CORRUPT} IS NOT NULL THEN 'malformed_json'
        WHEN {_blank("user_id")} THEN 'missing_user_id'
        WHEN {_blank("event_type")} THEN 'missing_event_type'
        WHEN {_blank("timestamp")} THEN 'missing_timestamp'
        WHEN NOT (event_type IN ({known})) THEN 'unknown_event_type'
        WHEN {topic_of}[event_type] != topic THEN 'wrong_topic'
        WHEN {_blank("product_id")} THEN 'missing_product_id'
        WHEN event_time IS NULL THEN 'unparseable_timestamp'
        WHEN {_blank("price")} THEN 'missing_price'
        WHEN price IS NULL THEN 'non_numeric_price'
        WHEN price < 0 THEN 'negative_price'
        WHEN event_type = 'page_view' AND {_blank("category")} THEN 'missing_category'
      END"""
    # a location that is not an object gives null coordinates, like a missing one
    return f"""
    SELECT IF(reason IS NULL, NULL, raw) AS raw, topic, partition, offset, kafka_timestamp, user_id, product_id,
           category, event_type, price, event_time, store_id, store_type, city, province, lat, lon, reason
    FROM (
      SELECT *, {reason} AS reason
      FROM (
        SELECT raw, topic, partition, offset, kafka_timestamp, j,
               trim(j.user_id) AS user_id, trim(j.product_id) AS product_id, trim(j.category) AS category,
               trim(j.event_type) AS event_type, try_cast(j.price AS DOUBLE) AS price,
               try_to_timestamp(trim(j.timestamp)) AS event_time, j.store_id AS store_id,
               j.store_type AS store_type, j.city AS city, j.province AS province,
               try_cast(from_json(j.location, 'lat STRING, lon STRING').lat AS DOUBLE) AS lat,
               try_cast(from_json(j.location, 'lat STRING, lon STRING').lon AS DOUBLE) AS lon
        FROM (
          SELECT CAST(value AS STRING) AS raw, topic, CAST(partition AS INT) AS partition,
                 CAST(offset AS BIGINT) AS offset, timestamp AS kafka_timestamp,
                 from_json(CAST(value AS STRING), {_sql_str(_JSON_DDL)}, {_JSON_OPTIONS}) AS j
          FROM {{kafka}})))"""


def parse_records(kafka: DataFrame, topic_prefix: str = "") -> DataFrame:
    """Kafka rows (value, topic, partition, offset, timestamp) -> one row per record with `reason`
    (null for a valid event) and `raw` (the record's text, kept for rejected records only: it is most
    of a record's bytes).

    `topic_prefix` is the prefix of the three topic names (isolated runs share one broker).
    """
    return run(parse_sql(topic_prefix), kafka=kafka)


_KIND = _map((et, d) for et, (_, d) in EVENT_TYPES.items())
VALID_SQL = f"""SELECT {", ".join(EVENT_SCHEMA.names)}, {_KIND}[event_type] AS kind,
    date_format(event_time, 'yyyy-MM-dd') AS event_date FROM {{parsed}} WHERE reason IS NULL"""
QUARANTINED_SQL = f"""SELECT {", ".join(QUARANTINE_SCHEMA.names)},
    date_format(kafka_timestamp, 'yyyy-MM-dd') AS ingest_date FROM {{parsed}} WHERE reason IS NOT NULL"""


def valid_events(parsed: DataFrame) -> DataFrame:
    """Valid events in the contract's EVENT_SCHEMA columns, plus `kind` (raw dir) and `event_date`."""
    return run(VALID_SQL, parsed=parsed)


def quarantined(parsed: DataFrame) -> DataFrame:
    """Rejected records in the contract's QUARANTINE_SCHEMA columns, plus `ingest_date`."""
    return run(QUARANTINED_SQL, parsed=parsed)

