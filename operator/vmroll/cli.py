"""The `vmroll` command: one entry point; each area of vmroll registers its own subcommands.

Subcommand modules import their heavy dependencies lazily, so `vmroll --help` stays fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from vmroll import __version__
from vmroll.api import cli as api_cli
from vmroll.chart import cli as chart_cli
from vmroll.devcluster import cli as devcluster_cli
from vmroll.devstack import cli as devstack_cli
from vmroll.emulator import cli as emulator_cli
from vmroll.handlers import cli as handlers_cli


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vmroll",
        description="Keep pools of Azure VMs on declared OS image versions.",
    )
    parser.add_argument("--version", action="version", version=f"vmroll {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    devstack_cli.register(commands)
    devcluster_cli.register(commands)
    emulator_cli.register(commands)
    api_cli.register(commands)
    chart_cli.register(commands)
    handlers_cli.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
