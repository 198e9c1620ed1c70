"""Option validation: supported, warned, rejected, malformed (no JVM)."""

from __future__ import annotations

import pytest

from harness.autoloader.options import (
    DEFAULT_MAX_FILES_PER_TRIGGER,
    SUPPORTED,
    UNSUPPORTED,
    WARN_AND_IGNORE,
    parse_bytes,
    parse_cloud_files_options,
)
from harness.errors import InvalidOptionValueError, UnsupportedOptionError

pytestmark = pytest.mark.unit


def test_defaults_follow_databricks() -> None:
    opts = parse_cloud_files_options({"cloudFiles.format": "json"})
    assert opts.format == "json"
    assert opts.infer_column_types is False
    assert opts.include_existing_files is True
    assert opts.allow_overwrites is False
    assert opts.rescued_column is None
    assert opts.resolved_evolution_mode(schema_given=False) == "addNewColumns"
    assert opts.resolved_evolution_mode(schema_given=True) == "none"
    assert opts.trigger_limits() == ({"maxFilesPerTrigger": str(DEFAULT_MAX_FILES_PER_TRIGGER)}, None)
    assert opts.warnings == ()


def test_names_are_case_insensitive_and_values_parsed() -> None:
    opts = parse_cloud_files_options(
        {
            "CLOUDFILES.FORMAT": "CSV",
            "cloudfiles.inferColumnTypes": "TRUE",
            "cloudFiles.schemaEvolutionMode": "failonnewcolumns",
            "cloudFiles.maxFilesPerTrigger": "3",
            "cloudFiles.rescuedDataColumn": "_bad",
            "cloudFiles.partitionColumns": "date, hour",
            "header": "true",
        }
    )
    assert opts.format == "csv"
    assert opts.infer_column_types is True
    assert opts.evolution_mode == "failOnNewColumns"
    assert opts.max_files_per_trigger == 3
    assert opts.rescued_column == "_bad"
    assert opts.partition_columns == ("date", "hour")
    assert opts.reader_option("HEADER") == "true"


def test_plain_rescued_data_column_option() -> None:
    assert (
        parse_cloud_files_options({"cloudFiles.format": "json", "rescuedDataColumn": "r"}).rescued_column
        == "r"
    )


@pytest.mark.parametrize(
    "option", ["cloudFiles.useNotifications", "cloudFiles.backfillInterval", "cloudFiles.resourceTag.team"]
)
def test_harmless_options_warn_by_name(option: str) -> None:
    opts = parse_cloud_files_options({"cloudFiles.format": "json", option: "x"})
    assert len(opts.warnings) == 1 and option in opts.warnings[0]


def test_unknown_cloud_files_option_is_an_error_naming_it() -> None:
    with pytest.raises(UnsupportedOptionError) as info:
        parse_cloud_files_options({"cloudFiles.format": "json", "cloudFiles.maxFilesPerTriger": "1"})
    assert info.value.option == "cloudFiles.maxFilesPerTriger"


def test_validate_options_false_turns_unknown_into_warning() -> None:
    opts = parse_cloud_files_options(
        {"cloudFiles.format": "json", "cloudFiles.validateOptions": "false", "cloudFiles.whatever": "1"}
    )
    assert any("cloudFiles.whatever" in w for w in opts.warnings)


@pytest.mark.parametrize(
    ("option", "value"),
    [("cloudFiles.cleanSource", "DELETE"), ("badRecordsPath", "/tmp/bad"), ("readerCaseSensitive", "false")],
)
def test_unemulatable_options_are_errors(option: str, value: str) -> None:
    with pytest.raises(UnsupportedOptionError) as info:
        parse_cloud_files_options({"cloudFiles.format": "json", option: value})
    assert info.value.option == option


def test_clean_source_off_is_accepted() -> None:
    assert (
        parse_cloud_files_options({"cloudFiles.format": "json", "cloudFiles.cleanSource": "OFF"}).warnings
        == ()
    )


@pytest.mark.parametrize(
    ("options", "option"),
    [
        ({}, "cloudFiles.format"),
        ({"cloudFiles.format": "xls"}, "cloudFiles.format"),
        ({"cloudFiles.format": "json", "cloudFiles.inferColumnTypes": "yes"}, "cloudFiles.inferColumnTypes"),
        (
            {"cloudFiles.format": "json", "cloudFiles.maxFilesPerTrigger": "0"},
            "cloudFiles.maxFilesPerTrigger",
        ),
        (
            {"cloudFiles.format": "json", "cloudFiles.schemaEvolutionMode": "merge"},
            "cloudFiles.schemaEvolutionMode",
        ),
        (
            {"cloudFiles.format": "json", "cloudFiles.maxBytesPerTrigger": "lots"},
            "cloudFiles.maxBytesPerTrigger",
        ),
    ],
)
def test_malformed_values_name_the_option(options: dict[str, str], option: str) -> None:
    with pytest.raises(InvalidOptionValueError) as info:
        parse_cloud_files_options(options)
    assert info.value.option == option


def test_avro_and_xml_are_reported_unsupported() -> None:
    with pytest.raises(UnsupportedOptionError):
        parse_cloud_files_options({"cloudFiles.format": "avro"})


def test_unknown_plain_option_is_passed_with_a_warning() -> None:
    opts = parse_cloud_files_options({"cloudFiles.format": "json", "fancyOption": "1"})
    assert opts.reader_options["fancyOption"] == "1"
    assert any("fancyOption" in w for w in opts.warnings)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1048576", 1 << 20), ("10m", 10 << 20), ("1g", 1 << 30), ("1.5 KB", 1536), ("7b", 7)],
)
def test_parse_bytes(text: str, expected: int) -> None:
    assert parse_bytes("x", text) == expected


def test_both_trigger_limits_keep_bytes_and_warn() -> None:
    opts = parse_cloud_files_options(
        {
            "cloudFiles.format": "json",
            "cloudFiles.maxFilesPerTrigger": "2",
            "cloudFiles.maxBytesPerTrigger": "1k",
        }
    )
    limits, note = opts.trigger_limits()
    assert limits == {"maxBytesPerTrigger": "1024"}
    assert note is not None and "maxFilesPerTrigger" in note


def test_tables_do_not_overlap() -> None:
    assert not set(SUPPORTED) & set(WARN_AND_IGNORE)
    assert not set(SUPPORTED) & set(UNSUPPORTED)
    assert not set(WARN_AND_IGNORE) & set(UNSUPPORTED)


def test_every_option_in_the_tables_is_documented() -> None:
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "autoloader.md").read_text()
    for name in (*SUPPORTED, *WARN_AND_IGNORE, *UNSUPPORTED):
        assert f"`{name}" in doc, name


def test_ignored_options_are_recognised_so_credentials_are_never_stored() -> None:
    from harness.autoloader.options import is_ignored_option

    assert is_ignored_option("cloudFiles.clientSecret") and is_ignored_option("CLOUDFILES.resourceTag.team")
    assert not is_ignored_option("cloudFiles.format") and not is_ignored_option("multiLine")
