"""Databricks pipeline settings JSON → a frozen, validated settings object; volume and name mapping."""

from harness.settings.model import Library, PipelineSettings, load_settings, parse_settings
from harness.settings.naming import local_database, quote_identifier, validate_identifier
from harness.settings.volumes import VolumeMapper

__all__ = [
    "Library",
    "PipelineSettings",
    "VolumeMapper",
    "load_settings",
    "local_database",
    "parse_settings",
    "quote_identifier",
    "validate_identifier",
]
