"""The read side: the data contract shared with the Spark job, HDFS access, readers and chart shaping (no Qt)."""
