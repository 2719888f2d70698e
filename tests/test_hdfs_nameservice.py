"""An HA nameservice's client settings against a real NameNode (issue 15): the managed NameNode
addressed as the nameservice `ecomtest` whose first NameNode address is dead, so both of the app's HDFS
clients (pyarrow's libhdfs in this process, and a Spark session's Hadoop client) must fail over to the
second one. The NameNode is the session stack's (the test writes under a path of its own). A real HA
pair (JournalNodes, ZooKeeper failover) is not started here."""

from __future__ import annotations

import uuid

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ecomdesk.config import from_dict
from ecomdesk.data.hdfs import ha_conf, hadoop_filesystem, hdfs_uri
from ecomdesk.testing.sandbox import free_ports

pytestmark = pytest.mark.stack


def test_both_hdfs_clients_reach_the_namenode_through_the_nameservice(stack, spark):
    hdfs = stack.config  # the session's NameNode: this test only adds a file of its own
    dead = free_ports(1)[0]
    data = {**hdfs.to_dict(), "hdfs": {"namenode": "ecomtest",
                                       "namenodes": [f"127.0.0.1:{dead}", f"127.0.0.1:{hdfs.ports.namenode_rpc}"]}}
    config = from_dict(data, hdfs.paths)
    assert hdfs_uri(config, "/x") == "hdfs://ecomtest/x"
    path = f"/nameservice-test/{uuid.uuid4().hex}.parquet"
    table = pa.table({"n": list(range(100))})
    fs = hadoop_filesystem(config)
    fs.create_dir(path.rsplit("/", 1)[0])
    with fs.open_output_stream(path) as out:
        pq.write_table(table, out)
    # the same file through the single address: it was written to this NameNode
    assert pq.read_table(hadoop_filesystem(hdfs).open_input_file(path)).equals(table)
    hadoop = spark.sparkContext._jsc.hadoopConfiguration()  # the session is shared: set, then unset
    try:
        for key, value in ha_conf(config).items():
            hadoop.set(key, value)
        assert spark.read.parquet(hdfs_uri(config, path)).agg({"n": "sum"}).first()[0] == sum(range(100))
    finally:
        for key in ha_conf(config):
            hadoop.unset(key)
