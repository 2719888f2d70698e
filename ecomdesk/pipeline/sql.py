"""Running the job's SQL statements on DataFrames."""

from __future__ import annotations

from pyspark.sql import DataFrame


def run(sql: str, **frames: DataFrame) -> DataFrame:
    """`sql` with each `{name}` read from a temp view of `frames[name]`.

    Not Spark's own DataFrame arguments (`spark.sql(sql, name=df)`): they drop their views after the
    call, and a plan read through a dropped view no longer matches the cache, so every partial of a
    batch read Kafka again. One view name per role: a batch's views replace the previous batch's.
    """
    names = {}
    for role, df in frames.items():
        names[role] = f"ecomdesk_{role}"
        df.createOrReplaceTempView(names[role])
    return next(iter(frames.values())).sparkSession.sql(sql.format(**names))
