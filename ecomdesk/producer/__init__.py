"""The event producer: simulated shop events into Kafka, as a managed service or a CLI run."""
