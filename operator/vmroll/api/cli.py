"""The `vmroll crds` subcommand: write the CRDs that the models in vmroll.api define."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(commands: argparse._SubParsersAction[Any]) -> None:
    parser = commands.add_parser(
        "crds",
        help="write the CustomResourceDefinitions generated from vmroll's models",
        description="Write one YAML file per CustomResourceDefinition, generated from the models.",
    )
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=Path("crds"),
        help="directory to write into (default: crds/)",
    )
    parser.set_defaults(run=_write_crds)


def _write_crds(args: argparse.Namespace) -> int:
    from vmroll.api.crd import render_crds

    output_dir: Path = args.output_dir
    output_dir.mkdir(parents=True, exist_ok=True)
    for filename, text in render_crds().items():
        (output_dir / filename).write_text(text, encoding="utf-8")
        print(output_dir / filename)
    return 0
