"""The Spark job's spark-submit entry file, shipped inside the package as `ecomdesk.jobs`."""
