"""The `vmroll emulator` subcommands."""

from __future__ import annotations

import argparse
from typing import Any


def register(commands: "argparse._SubParsersAction[Any]") -> None:
    parser = commands.add_parser("emulator", help="(not yet implemented)")
    parser.set_defaults(run=lambda args: 2)
