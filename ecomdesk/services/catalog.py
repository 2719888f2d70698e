"""The managed services of the local stack, in one list built from the config."""

from __future__ import annotations

from ecomdesk.config import Config
from ecomdesk.core.spec import ServiceSpec
from ecomdesk.producer.service import producer_spec
from ecomdesk.services.hdfs import datanode_spec, namenode_spec
from ecomdesk.services.kafka import kafka_spec


def build_specs(config: Config) -> list[ServiceSpec]:
    return [namenode_spec(config), datanode_spec(config), kafka_spec(config), producer_spec(config)]
