"""Versions of the JVM stack, read from the one place they are pinned: resources/jvm/pom.xml."""

from __future__ import annotations

import functools
import xml.etree.ElementTree as ET

from ecomdesk import __version__
from ecomdesk.paths import resource

POM = resource("jvm", "pom.xml")
_NS = {"m": "http://maven.apache.org/POM/4.0.0"}


@functools.cache
def pom_properties() -> dict[str, str]:
    root = ET.parse(POM).getroot()
    props = root.find("m:properties", _NS)
    assert props is not None, f"{POM} has no <properties>"
    return {child.tag.split("}", 1)[1]: (child.text or "").strip() for child in props}


def stack_versions() -> dict[str, str]:
    p = pom_properties()
    return {
        "kafka": p["kafka.version"],
        "hadoop": p["hadoop.version"],
        "spark": p["spark.version"],
        "scala": p["scala.binary.version"],
        "ecomdesk": __version__,
    }
