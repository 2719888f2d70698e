"""The Spark job's logic, free of Qt and of spark-submit wiring so that it can be unit tested."""
