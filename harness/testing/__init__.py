"""Test helpers for DLT projects: a pytest plugin with a shared Spark session and pipeline fixtures."""
