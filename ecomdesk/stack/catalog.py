"""The managed services, in one list built from the config.

When the config points at an external Kafka cluster or HDFS NameNode, the matching local
services are left out and nothing waits for them: the producer and the job talk to the cluster.
Each service gets its restart policy from the config's `[restart]` section.
"""

from __future__ import annotations

import dataclasses

from ecomdesk import service_names as names
from ecomdesk.config import Config, ConfigError
from ecomdesk.core.spec import ServiceSpec
from ecomdesk.stack import members
from ecomdesk.stack.hdfs import datanode_specs, namenode_spec
from ecomdesk.stack.kafka import kafka_specs
from ecomdesk.stack.producer import producer_spec
from ecomdesk.stack.spark_cluster import spark_cluster_specs
from ecomdesk.stack.spark_job import spark_job_spec


def build_specs(config: Config) -> list[ServiceSpec]:
    specs = [namenode_spec(config), *datanode_specs(config), *kafka_specs(config), *spark_cluster_specs(config),
             spark_job_spec(config), producer_spec(config)]
    external = set()
    if config.kafka.bootstrap:
        external |= set(members.brokers(config))
    if config.hdfs.namenode:
        external |= {names.NAMENODE, *members.datanodes(config)}
    unknown = set(config.restart.services) - {s.name for s in specs}
    if unknown:
        raise ConfigError(f"[restart.services]: unknown service(s) {', '.join(sorted(unknown))}; "
                          f"known: {', '.join(s.name for s in specs)}")
    return [dataclasses.replace(s, depends_on=tuple(d for d in s.depends_on if d not in external),
                                restart=config.restart.policy_for(s.name))
            for s in specs if s.name not in external]
