"""The `vmroll dev` subcommand: run vmroll on the embedded local stack until Ctrl-C."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from types import FrameType
from typing import Any

EXAMPLE_POOL = "examples/local/pool.yaml"


def register(commands: argparse._SubParsersAction[Any]) -> None:
    parser = commands.add_parser(
        "dev",
        help="run vmroll on the local stack: control plane, Azure emulator and the operator",
        description="Start a local control plane (or use VMROLL_KUBECONFIG's cluster), the "
        "Azure emulator, the CRDs, an AzureAccount for the emulator and the operator; stop "
        "and remove all of it on Ctrl-C.",
    )
    parser.add_argument(
        "--no-operator",
        action="store_true",
        help="start everything but the operator and its admission webhook (to run it "
        "yourself, in a debugger: `vmroll run --allow-custom-endpoints "
        "--cluster-resource-namespace vmroll-system`)",
    )
    parser.set_defaults(run=_run)


class _Stop(Exception):
    """SIGTERM, turned into an exception so that the stack unwinds as on Ctrl-C."""


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop


def _run(args: argparse.Namespace) -> int:
    from vmroll.devcluster.errors import DevclusterError
    from vmroll.devstack.stack import DevStack, DevStackError

    signal.signal(signal.SIGTERM, _raise_stop)
    try:
        with DevStack(run_operator=not args.no_operator) as stack:
            _print_usage(str(stack.kubeconfig), stack.kubectl)
            while stack.operator is None or stack.operator.poll() is None:
                time.sleep(0.5)
            print(f"vmroll dev: the operator exited with {stack.operator.returncode}")
            return 1
    except (KeyboardInterrupt, _Stop):
        print("\nvmroll dev: stopped; the local stack is down.")
        return 0
    except (DevStackError, DevclusterError) as error:
        print(f"vmroll dev: {error}", file=sys.stderr)
        return 1


def _print_usage(kubeconfig: str, kubectl: str) -> None:
    print(
        "\nvmroll is running on the local stack. In another terminal:\n"
        f"  export KUBECONFIG={kubeconfig}\n"
        f"  export PATH={os.path.dirname(kubectl) or '.'}:$PATH\n"
        f"  kubectl apply -f {EXAMPLE_POOL}\n"
        "  kubectl wait --for=condition=Ready vmpool --all --timeout=5m\n"
        "  kubectl get vmpool,azureaccount\n"
        "Press Ctrl-C to stop everything.\n",
        flush=True,
    )
