"""`vmroll manifests`: refresh the chart's copy of the CRDs, then render manifests/ from the chart.

The CRDs come from the models (the same text `vmroll crds` writes into crds/); Helm can read
files only from inside the chart, hence the copy. Run from the repository's root (the defaults
are relative paths), or via `make manifests`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

RELEASE = "vmroll"
NAMESPACE = "vmroll-system"
"""The release and namespace the base installs, as `helm install vmroll -n vmroll-system` does."""
CHART_CRDS = Path("files") / "crds"


def register(commands: argparse._SubParsersAction[Any]) -> None:
    parser = commands.add_parser(
        "manifests",
        help="render manifests/ (the kustomize base) from charts/vmroll",
        description="Copy the generated CRDs into the chart, then write the kustomize base that "
        "`helm template` renders from the chart with its default values.",
    )
    parser.add_argument("--chart", type=Path, default=Path("charts/vmroll"))
    parser.add_argument("--output-dir", type=Path, default=Path("manifests"))
    parser.set_defaults(run=_write_manifests)


def _write_manifests(args: argparse.Namespace) -> int:
    from vmroll.chart.helm import ensure_helm, template
    from vmroll.chart.kustomize import kustomize_base

    chart: Path = args.chart
    write_chart_crds(chart)
    rendered = template(ensure_helm(), chart, release=RELEASE, namespace=NAMESPACE)
    replace_yaml_files(args.output_dir, kustomize_base(rendered, NAMESPACE))
    return 0


def write_chart_crds(chart: Path) -> None:
    from vmroll.api.crd import render_crds

    replace_yaml_files(chart / CHART_CRDS, render_crds())


def replace_yaml_files(directory: Path, files: dict[str, str]) -> None:
    """Write `files` into `directory` and remove any other YAML file there (a stale rendering)."""
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.yaml"):
        if stale.name not in files:
            stale.unlink()
    for name, text in sorted(files.items()):
        (directory / name).write_text(text, encoding="utf-8")
        print(directory / name)
