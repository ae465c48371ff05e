"""The `vmroll` command: one entry point; each area of vmroll registers its own subcommands.

Subcommand modules import their heavy dependencies lazily, so `vmroll --help` stays fast.

The local stack (`dev`, `devcluster`, `emulator`), the image builder (`image`) and the chart
renderer (`manifests`) live in the source checkout only: the wheel and the container image carry
the operator. Where they are absent, or their `vmroll[local]` dependencies are, their commands
stay listed and say so.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from vmroll import __version__
from vmroll.api import cli as api_cli
from vmroll.handlers import cli as handlers_cli


@dataclass(frozen=True)
class LocalCommand:
    """A subcommand of the source checkout: its module and a one-line help for when it is absent."""

    name: str
    module: str
    help: str


LOCAL_COMMANDS = (
    LocalCommand("dev", "vmroll.devstack.cli", "run vmroll on the local stack"),
    LocalCommand("devcluster", "vmroll.devcluster.cli", "the local control plane"),
    LocalCommand("emulator", "vmroll.emulator.cli", "the local ARM-compatible Azure emulator"),
    LocalCommand("image", "vmroll.imagebuild.cli", "build vmroll's container image"),
    # Renders manifests/ with helm, which the local stack's tool sets build.
    LocalCommand("manifests", "vmroll.chart.cli", "render manifests/ from charts/vmroll"),
)
# Imported only by the local stack: the `local` extra in pyproject.toml.
LOCAL_DEPENDENCIES = ("jwt", "cryptography")

NOT_INSTALLED = (
    "`vmroll {name}` is not part of this installation: the vmroll wheel and its container "
    "image carry the operator only (`vmroll run`). Run it from a source checkout of vmroll "
    "(`make dev`, or `pip install -e '.[local]'` there)."
)
MISSING_DEPENDENCIES = (
    "`vmroll {name}` needs the local stack's dependencies ({missing}): run "
    "`pip install -e '.[local]'` in the source checkout."
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vmroll",
        description="Keep pools of Azure VMs on declared OS image versions.",
    )
    parser.add_argument("--version", action="version", version=f"vmroll {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in LOCAL_COMMANDS:
        _register_local(commands, command)
    api_cli.register(commands)
    handlers_cli.register(commands)
    return parser


def unavailable_reason(command: LocalCommand) -> str | None:
    """Why `command` cannot run in this installation, or None when it can."""
    package = command.module.rsplit(".", 1)[0]
    if importlib.util.find_spec(package) is None:
        return NOT_INSTALLED.format(name=command.name)
    missing = [name for name in LOCAL_DEPENDENCIES if importlib.util.find_spec(name) is None]
    if missing:
        return MISSING_DEPENDENCIES.format(name=command.name, missing=", ".join(missing))
    return None


def _register_local(commands: argparse._SubParsersAction[Any], command: LocalCommand) -> None:
    reason = unavailable_reason(command)
    if reason is None:
        importlib.import_module(command.module).register(commands)
        return
    parser = commands.add_parser(
        command.name,
        help=f"{command.help} (not installed here)",
        description=reason,
        add_help=False,
    )

    def refuse(args: argparse.Namespace) -> int:
        print(f"vmroll: {reason}", file=sys.stderr)
        return 2

    parser.set_defaults(run=refuse, any_arguments=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    # An absent command refuses whatever its arguments; every other command parses strictly.
    args, unknown = parser.parse_known_args(argv)
    if unknown and not getattr(args, "any_arguments", False):
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
