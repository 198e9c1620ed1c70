"""Validate Auto Loader options in one place, into a frozen `CloudFilesOptions`.

Databricks validates `cloudFiles.*` options (``cloudFiles.validateOptions`` defaults to true) and
fails on unknown ones; we do the same, and sort every documented option we cannot emulate into
either a warning (harmless locally: notification plumbing, listing tuning) or an
`UnsupportedOptionError` (ignoring it would change the data). Option names are case-insensitive,
as they are for Spark readers. The tables below are the single source of docs/autoloader.md.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from harness.errors import InvalidOptionValueError, UnsupportedOptionError

EVOLUTION_MODES: tuple[str, ...] = ("addNewColumns", "rescue", "failOnNewColumns", "none")
FORMATS: tuple[str, ...] = ("json", "csv", "parquet", "orc", "text", "binaryFile")
DEFAULT_RESCUED_COLUMN = "_rescued_data"
#: Auto Loader's documented default when neither limit is given.
DEFAULT_MAX_FILES_PER_TRIGGER = 1000

#: cloudFiles.* options the emulation implements (canonical spelling).
SUPPORTED: tuple[str, ...] = (
    "cloudFiles.format",
    "cloudFiles.schemaLocation",
    "cloudFiles.inferColumnTypes",
    "cloudFiles.schemaHints",
    "cloudFiles.schemaEvolutionMode",
    "cloudFiles.rescuedDataColumn",
    "cloudFiles.includeExistingFiles",
    "cloudFiles.allowOverwrites",
    "cloudFiles.maxFilesPerTrigger",
    "cloudFiles.maxBytesPerTrigger",
    "cloudFiles.partitionColumns",
    "cloudFiles.validateOptions",
)

_NOTIFICATIONS = "only used by file-notification mode; the local emulation always lists the directory"
#: Options that cannot matter on a local directory: reported as a warning and ignored.
WARN_AND_IGNORE: Mapping[str, str] = MappingProxyType(
    {
        "cloudFiles.useNotifications": "file-notification mode is not emulated; files are discovered by "
        "listing, which keeps the same exactly-once guarantee",
        "cloudFiles.useManagedFileEvents": "managed file events are not emulated; files are discovered by "
        "listing",
        "cloudFiles.useIncrementalListing": "the local directory is listed in full at every trigger",
        "cloudFiles.useStrictGlobber": "the load path is globbed with Hadoop's globber, as Spark does",
        "cloudFiles.backfillInterval": "every trigger lists the whole directory, so no backfill is needed",
        "cloudFiles.maxFileAge": "file state is never expired locally (every ingested path is kept)",
        "cloudFiles.fetchParallelism": _NOTIFICATIONS,
        "cloudFiles.pathRewrites": _NOTIFICATIONS,
        "cloudFiles.queueUrl": _NOTIFICATIONS,
        "cloudFiles.queueName": _NOTIFICATIONS,
        "cloudFiles.region": _NOTIFICATIONS,
        "cloudFiles.roleArn": _NOTIFICATIONS,
        "cloudFiles.roleExternalId": _NOTIFICATIONS,
        "cloudFiles.roleSessionName": _NOTIFICATIONS,
        "cloudFiles.stsEndpoint": _NOTIFICATIONS,
        "cloudFiles.connectionString": _NOTIFICATIONS,
        "cloudFiles.resourceGroup": _NOTIFICATIONS,
        "cloudFiles.subscriptionId": _NOTIFICATIONS,
        "cloudFiles.tenantId": _NOTIFICATIONS,
        "cloudFiles.clientId": _NOTIFICATIONS,
        "cloudFiles.clientSecret": _NOTIFICATIONS,
        "cloudFiles.projectId": _NOTIFICATIONS,
        "cloudFiles.client": _NOTIFICATIONS,
        "cloudFiles.clientEmail": _NOTIFICATIONS,
        "cloudFiles.privateKey": _NOTIFICATIONS,
        "cloudFiles.privateKeyId": _NOTIFICATIONS,
        "cloudFiles.subscription": _NOTIFICATIONS,
    }
)
#: Prefixes of option families handled like WARN_AND_IGNORE.
WARN_PREFIXES: Mapping[str, str] = MappingProxyType({"cloudFiles.resourceTag.": _NOTIFICATIONS})

#: Options whose effect cannot be emulated and must not be ignored.
UNSUPPORTED: Mapping[str, str] = MappingProxyType(
    {
        "cloudFiles.cleanSource": "moving or deleting source files after ingestion is not emulated (only OFF "
        "is accepted)",
        "cloudFiles.cleanSource.retentionDuration": "cleanSource is not emulated",
        "cloudFiles.cleanSource.moveDestination": "cleanSource is not emulated",
        "badRecordsPath": "quarantining bad records to files is not emulated; malformed records stay in the "
        "stream (all columns NULL, raw text in _corrupt_record when that column is declared) and are counted",
        "singleVariantColumn": "reading whole records into one VARIANT column is not emulated",
    }
)

#: Plain reader options we pass through, per format (anything else is passed on with a warning).
_FILE_SOURCE_OPTIONS = frozenset(
    {"pathglobfilter", "recursivefilelookup", "ignorecorruptfiles", "ignoremissingfiles", "basepath"}
)
_TEXT_LIKE = frozenset({"encoding", "charset", "linesep", "multiline", "mode", "columnnameofcorruptrecord"})
KNOWN_READER_OPTIONS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "json": _FILE_SOURCE_OPTIONS
        | _TEXT_LIKE
        | frozenset(
            {
                "samplingratio",
                "primitivesasstring",
                "prefersdecimal",
                "allowcomments",
                "allowunquotedfieldnames",
                "allowsinglequotes",
                "allownumericleadingzeros",
                "allownonnumericnumbers",
                "allowbackslashescapinganycharacter",
                "allowunquotedcontrolchars",
                "dateformat",
                "timestampformat",
                "timestampntzformat",
                "enabledatetimeparsingfallback",
                "locale",
                "dropfieldifallnull",
                "timezone",
                "readercasesensitive",
            }
        ),
        "csv": _FILE_SOURCE_OPTIONS
        | _TEXT_LIKE
        | frozenset(
            {
                "sep",
                "delimiter",
                "quote",
                "escape",
                "comment",
                "header",
                "ignoreleadingwhitespace",
                "ignoretrailingwhitespace",
                "nullvalue",
                "nanvalue",
                "positiveinf",
                "negativeinf",
                "dateformat",
                "timestampformat",
                "timestampntzformat",
                "maxcolumns",
                "maxcharspercolumn",
                "chartoescapequoteescaping",
                "samplingratio",
                "emptyvalue",
                "locale",
                "unescapedquotehandling",
                "enforceschema",
                "preferdate",
                "timezone",
                "readercasesensitive",
            }
        ),
        "parquet": _FILE_SOURCE_OPTIONS
        | frozenset({"mergeschema", "datetimerebasemode", "int96rebasemode", "readercasesensitive"}),
        "orc": _FILE_SOURCE_OPTIONS | frozenset({"mergeschema", "readercasesensitive"}),
        "text": _FILE_SOURCE_OPTIONS | frozenset({"wholetext", "linesep", "encoding"}),
        "binaryFile": _FILE_SOURCE_OPTIONS,
    }
)

_BYTE_UNITS = {
    "": 1,
    "b": 1,
    "k": 1 << 10,
    "kb": 1 << 10,
    "m": 1 << 20,
    "mb": 1 << 20,
    "g": 1 << 30,
    "gb": 1 << 30,
    "t": 1 << 40,
    "tb": 1 << 40,
}
_CANONICAL = {name.lower(): name for name in (*SUPPORTED, *WARN_AND_IGNORE, *UNSUPPORTED)}


@dataclass(frozen=True)
class CloudFilesOptions:
    """Validated Auto Loader options; `reader_options` holds the plain (non-cloudFiles) ones."""

    format: str
    schema_location: str | None = None
    infer_column_types: bool = False
    schema_hints: str | None = None
    evolution_mode: str | None = None  # None: the default, which depends on whether a schema is given
    rescued_column: str | None = None  # set only when given explicitly
    include_existing_files: bool = True
    allow_overwrites: bool = False
    max_files_per_trigger: int | None = None
    max_bytes_per_trigger: int | None = None
    partition_columns: tuple[str, ...] | None = None
    reader_options: Mapping[str, str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def resolved_evolution_mode(self, schema_given: bool) -> str:
        """Databricks' default: addNewColumns when the schema is inferred, none when one is given."""
        if self.evolution_mode is not None:
            return self.evolution_mode
        return "none" if schema_given else "addNewColumns"

    def reader_option(self, name: str, default: str | None = None) -> str | None:
        """A plain reader option by case-insensitive name."""
        wanted = name.lower()
        for key, value in self.reader_options.items():
            if key.lower() == wanted:
                return value
        return default

    def trigger_limits(self) -> tuple[dict[str, str], str | None]:
        """Native file-source rate-limit options, and a warning when both limits had to be reduced to one.

        Spark's file source refuses maxFilesPerTrigger together with maxBytesPerTrigger; Databricks
        applies whichever is hit first. We keep the byte limit (the one that bounds memory).
        """
        if self.max_bytes_per_trigger is not None:
            note = None
            if self.max_files_per_trigger is not None:
                note = (
                    "cloudFiles.maxFilesPerTrigger and cloudFiles.maxBytesPerTrigger are both set; Spark's "
                    "file source accepts only one, so only maxBytesPerTrigger "
                    f"({self.max_bytes_per_trigger} bytes) limits each micro-batch locally"
                )
            return {"maxBytesPerTrigger": str(self.max_bytes_per_trigger)}, note
        files = self.max_files_per_trigger or DEFAULT_MAX_FILES_PER_TRIGGER
        return {"maxFilesPerTrigger": str(files)}, None


def is_ignored_option(name: str) -> bool:
    """True for options the emulation ignores (notification plumbing, some of it credentials)."""
    lowered = name.lower()
    if _CANONICAL.get(lowered) in WARN_AND_IGNORE:
        return True
    return any(lowered.startswith(prefix.lower()) for prefix in WARN_PREFIXES)


def parse_bytes(option: str, value: str) -> int:
    """Parse a Databricks byte string (``1048576``, ``10m``, ``1g``, ``1.5 GB``) into bytes."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", value)
    unit = match.group(2).lower() if match else ""
    if not match or unit not in _BYTE_UNITS or float(match.group(1)) <= 0:
        raise InvalidOptionValueError(option, value, "a positive byte size such as 1048576, 512m or 10g")
    return int(float(match.group(1)) * _BYTE_UNITS[unit])


def _parse_bool(option: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered not in ("true", "false"):
        raise InvalidOptionValueError(option, value, "true or false")
    return lowered == "true"


def _parse_positive_int(option: str, value: str) -> int:
    try:
        number = int(value.strip())
    except ValueError:
        number = 0
    if number <= 0:
        raise InvalidOptionValueError(option, value, "a positive integer")
    return number


def _classify_cloud_option(name: str, value: str, validate: bool) -> tuple[str | None, str | None]:
    """(canonical name if supported, warning) for one cloudFiles.* option; raises for errors."""
    lowered = name.lower()
    canonical = _CANONICAL.get(lowered)
    if canonical in SUPPORTED:
        return canonical, None
    if canonical in WARN_AND_IGNORE:
        return None, f"Auto Loader option {name}={value!r} is ignored locally: {WARN_AND_IGNORE[canonical]}"
    for prefix, reason in WARN_PREFIXES.items():
        if lowered.startswith(prefix.lower()):
            return None, f"Auto Loader option {name}={value!r} is ignored locally: {reason}"
    if canonical in UNSUPPORTED:
        if canonical == "cloudFiles.cleanSource" and value.strip().upper() == "OFF":
            return None, None
        raise UnsupportedOptionError(name, value, UNSUPPORTED[canonical])
    if not validate:
        return None, (
            f"Unknown Auto Loader option {name}={value!r} ignored (cloudFiles.validateOptions=false)"
        )
    raise UnsupportedOptionError(
        name,
        value,
        "unknown Auto Loader option (Databricks rejects it too while cloudFiles.validateOptions is true); "
        "check the spelling against docs/autoloader.md",
    )


def parse_cloud_files_options(options: Mapping[str, str]) -> CloudFilesOptions:
    """Validate the options given to ``readStream.format("cloudFiles")``.

    Raises `UnsupportedOptionError` for unknown or unemulatable options and
    `InvalidOptionValueError` for malformed values; collects warnings for ignored ones.
    """
    items = {str(k): str(v) for k, v in options.items()}
    lowered = {k.lower(): k for k in items}
    validate_key = lowered.get("cloudfiles.validateoptions")
    validate = _parse_bool(validate_key, items[validate_key]) if validate_key else True

    warnings: list[str] = []
    cloud: dict[str, tuple[str, str]] = {}  # canonical -> (name as given, value)
    plain: dict[str, str] = {}
    rescued: str | None = None
    for name, value in items.items():
        low = name.lower()
        if low == "rescueddatacolumn":
            rescued = value
        elif low.startswith("cloudfiles."):
            canonical, warning = _classify_cloud_option(name, value, validate)
            if warning:
                warnings.append(warning)
            if canonical:
                cloud[canonical] = (name, value)
        elif _CANONICAL.get(low) in UNSUPPORTED:
            raise UnsupportedOptionError(name, value, UNSUPPORTED[_CANONICAL[low]])
        else:
            plain[name] = value

    def get(canonical: str) -> tuple[str, str] | None:
        return cloud.get(canonical)

    fmt_opt = get("cloudFiles.format")
    if fmt_opt is None:
        raise InvalidOptionValueError(
            "cloudFiles.format", "", f"one of {', '.join(FORMATS)} (it is required)"
        )
    fmt = {f.lower(): f for f in FORMATS}.get(fmt_opt[1].strip().lower())
    if fmt is None:
        if fmt_opt[1].strip().lower() in ("avro", "xml"):
            raise UnsupportedOptionError(
                fmt_opt[0],
                fmt_opt[1],
                "only json, csv, parquet, orc, text and binaryFile are emulated locally",
            )
        raise InvalidOptionValueError(fmt_opt[0], fmt_opt[1], f"one of {', '.join(FORMATS)}")

    mode = None
    if (opt := get("cloudFiles.schemaEvolutionMode")) is not None:
        mode = {m.lower(): m for m in EVOLUTION_MODES}.get(opt[1].strip().lower())
        if mode is None:
            raise InvalidOptionValueError(opt[0], opt[1], f"one of {', '.join(EVOLUTION_MODES)}")
    if (opt := get("cloudFiles.rescuedDataColumn")) is not None:
        rescued = opt[1]
    if rescued is not None and not rescued.strip():
        raise InvalidOptionValueError("rescuedDataColumn", rescued, "a column name")

    def flag(canonical: str, default: bool) -> bool:
        opt = get(canonical)
        return default if opt is None else _parse_bool(opt[0], opt[1])

    max_files = _parse_positive_int(*opt) if (opt := get("cloudFiles.maxFilesPerTrigger")) else None
    max_bytes = parse_bytes(*opt) if (opt := get("cloudFiles.maxBytesPerTrigger")) else None
    partitions = None
    if (opt := get("cloudFiles.partitionColumns")) is not None:
        partitions = tuple(p.strip() for p in opt[1].split(",") if p.strip())
    hints = get("cloudFiles.schemaHints")
    location = get("cloudFiles.schemaLocation")

    known = KNOWN_READER_OPTIONS[fmt]
    for name, value in plain.items():
        low = name.lower()
        if low == "readercasesensitive" and value.strip().lower() == "false":
            raise UnsupportedOptionError(
                name,
                value,
                "case-insensitive field matching is not emulated; "
                "mismatched-case fields go to the rescued data column",
            )
        if low not in known:
            warnings.append(
                f"Option {name}={value!r} is not a known {fmt} reader option; passed to Spark as is"
            )

    return CloudFilesOptions(
        format=fmt,
        schema_location=location[1] if location else None,
        infer_column_types=flag("cloudFiles.inferColumnTypes", False),
        schema_hints=hints[1] if hints and hints[1].strip() else None,
        evolution_mode=mode,
        rescued_column=rescued.strip() if rescued else None,
        include_existing_files=flag("cloudFiles.includeExistingFiles", True),
        allow_overwrites=flag("cloudFiles.allowOverwrites", False),
        max_files_per_trigger=max_files,
        max_bytes_per_trigger=max_bytes,
        partition_columns=partitions,
        reader_options=MappingProxyType(dict(plain)),
        warnings=tuple(warnings),
    )
