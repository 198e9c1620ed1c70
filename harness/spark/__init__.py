"""Spark + Delta sessions for the harness: Java check, Delta jars, targets (local, cluster, Connect)."""

from harness.spark.session import create_session, stop_session
from harness.spark.targets import SparkTarget

__all__ = ["SparkTarget", "create_session", "stop_session"]
