"""The options that choose a pipeline's settings, shared by every command that runs or reads a pipeline.

Either a Databricks Asset Bundle (``--bundle [DIR] --target T [--pipeline KEY] [--var k=v]``, resolved
as ``databricks bundle validate`` would, see harness/settings/bundle.py) or a pipeline settings JSON
(``--settings FILE`` with a ``PIPELINE_ROOT``). A command adds them with `add_pipeline_options` and
turns the parsed arguments into ``(pipeline_root, settings)`` with `pipeline_from_args`; with neither
option, the bundle in the current directory is used when there is one.

    from harness.cli.bundle_options import add_pipeline_options, pipeline_from_args
    add_pipeline_options(parser)                     # in add_parser
    root, settings = pipeline_from_args(args)        # in the handler
    LocalPipeline(root, settings, state=args.state)
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from harness.cli.progress import say_once
from harness.errors import BundleError

#: `--bundle` given without a folder: the current directory (as the Databricks CLI looks there).
_HERE = "."


def add_pipeline_options(
    parser: argparse.ArgumentParser, *, root_positional: bool = True, settings_help: str | None = None
) -> None:
    """``[PIPELINE_ROOT] [--settings FILE | --bundle [DIR] --target T --pipeline KEY --var k=v]``."""
    if root_positional:
        parser.add_argument(
            "pipeline_root",
            metavar="PIPELINE_ROOT",
            nargs="?",
            help="folder with the pipeline's source files (with --settings; a bundle gives its own root_path)",
        )
    group = parser.add_argument_group("pipeline settings (a bundle, or a settings JSON)")
    choice = group.add_mutually_exclusive_group()
    choice.add_argument(
        "--settings", metavar="SETTINGS.json", help=settings_help or "Databricks pipeline settings JSON"
    )
    choice.add_argument(
        "--bundle",
        nargs="?",
        const=_HERE,
        metavar="DIR",
        help="the Databricks Asset Bundle in DIR (default: the current directory), resolved for --target",
    )
    group.add_argument(
        "--target", "-t", metavar="TARGET", help="bundle target (default: the bundle's default)"
    )
    group.add_argument(
        "--pipeline", metavar="KEY", help="pipeline resource key (needed when the bundle has several)"
    )
    group.add_argument(
        "--var",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set a bundle variable (repeatable), as `databricks bundle ... --var`",
    )


def settings_from_args(args: argparse.Namespace) -> Any:
    """The `PipelineSettings` the options select (bundle or JSON); warnings are said once."""
    from harness.settings.bundle import bundle_pipeline_settings, find_bundle_file, parse_var_options
    from harness.settings.model import load_settings

    bundle = getattr(args, "bundle", None)
    settings_file = getattr(args, "settings", None)
    bundle_only = [f"--{n}" for n in ("target", "pipeline") if getattr(args, n, None)]
    bundle_only += ["--var"] if getattr(args, "var", None) else []
    if settings_file is not None:
        if bundle_only:
            raise BundleError(str(settings_file), None, f"{', '.join(bundle_only)} only apply with --bundle")
        return load_settings(settings_file)
    if bundle is None:
        try:
            find_bundle_file(_HERE)
        except BundleError:
            raise BundleError(
                str(Path.cwd()),
                None,
                "no pipeline settings: pass --bundle DIR --target T, or --settings FILE",
            ) from None
        bundle = _HERE
    settings = bundle_pipeline_settings(
        bundle, args.target, getattr(args, "pipeline", None), parse_var_options(getattr(args, "var", None))
    )
    for warning in settings.warnings:
        say_once(warning)
    return settings


def pipeline_from_args(args: argparse.Namespace) -> tuple[Path, Any]:
    """(pipeline root, settings): a bundle's resolved ``root_path`` (else its folder), or PIPELINE_ROOT."""
    settings = settings_from_args(args)
    given = getattr(args, "pipeline_root", None)
    if getattr(args, "settings", None) is not None:
        return Path(given or "."), settings
    if given is not None:
        return Path(given), settings
    if settings.root_path:
        return Path(settings.root_path), settings
    from harness.settings.bundle import find_bundle_file

    return find_bundle_file(getattr(args, "bundle", None) or _HERE).parent, settings


__all__ = ["add_pipeline_options", "pipeline_from_args", "settings_from_args"]
