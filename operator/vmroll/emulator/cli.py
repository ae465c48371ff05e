"""The `vmroll emulator` subcommands: `serve` runs the ARM-compatible emulator until signalled.

It writes `ca.crt` and `credentials.json` into `--data-dir` once it listens, prints where, and
stops cleanly on SIGINT or SIGTERM (saving `--state` when given). A bad catalog or state file
exits with status 2 and a message naming the field and what to change.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path
from typing import Any


def register(commands: argparse._SubParsersAction[Any]) -> None:
    emulator = commands.add_parser("emulator", help="the local ARM-compatible Azure emulator")
    actions = emulator.add_subparsers(dest="emulator_command", required=True, metavar="ACTION")
    serve = actions.add_parser(
        "serve",
        help="serve ARM and an Entra-style token endpoint over HTTPS",
        description="Serve the Azure emulator over HTTPS until SIGINT or SIGTERM.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=0, help="port; 0 picks a free one (default)")
    serve.add_argument(
        "--data-dir",
        type=Path,
        required=True,
        help="where ca.crt, credentials.json and the emulator's keys are written",
    )
    serve.add_argument("--catalog", type=Path, help="catalog YAML (default: the built-in one)")
    serve.add_argument("--state", type=Path, help="persist VMs and images here across restarts")
    serve.add_argument(
        "--access-log", action="store_true", help="print one line per request on stderr"
    )
    serve.set_defaults(run=_run_serve)


def _run_serve(args: argparse.Namespace) -> int:
    from vmroll.emulator.catalog import CatalogError
    from vmroll.emulator.state import StateError

    try:
        asyncio.run(_serve(args))
    except (CatalogError, StateError) as exc:
        print(f"vmroll emulator: {exc}", file=sys.stderr)
        return 2
    return 0


async def _serve(args: argparse.Namespace) -> None:
    from vmroll.emulator.server import running_emulator

    access_log = None
    if args.access_log:
        logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
        access_log = logging.getLogger("vmroll.emulator.access")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with running_emulator(
        args.data_dir,
        catalog=args.catalog,
        state_file=args.state,
        host=args.host,
        port=args.port,
        access_log=access_log,
    ) as emulator:
        print(
            f"vmroll emulator listening on {emulator.base_url}\n"
            f"  credentials: {args.data_dir / 'credentials.json'}\n"
            f"  CA bundle:   {emulator.ca_path}",
            flush=True,
        )
        await stop.wait()
    print("vmroll emulator stopped", flush=True)
