"""ecomdesk: run, watch and chart a Kafka -> Spark -> HDFS e-commerce pipeline."""

__version__ = "0.1.0"
