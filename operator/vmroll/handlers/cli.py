"""`vmroll run`: the operator against the current kubeconfig (or in-cluster configuration).

Clusterwide unless `--namespace` is given; standalone unless `--peering` names a peering object
(a second replica then stands by). `--metrics HOST:PORT` serves Prometheus metrics at /metrics.
kopf handles SIGTERM and SIGINT: handlers finish or are cancelled, and the process exits 0. The
flags are a contract with the Helm chart (charts/vmroll/templates/deployment.yaml), which passes
them from its values.
"""

from __future__ import annotations

import argparse
from typing import Any

from vmroll.handlers.run_config import ListenAddress, RunConfig

LOG_LEVELS = ("debug", "info", "warning")


def register(commands: argparse._SubParsersAction[Any]) -> None:
    defaults = RunConfig()
    parser = commands.add_parser("run", help="run the operator against the current kubeconfig")
    parser.add_argument(
        "-n",
        "--namespace",
        action="append",
        default=[],
        help="watch only this namespace (repeatable); clusterwide when omitted",
    )
    parser.add_argument(
        "--liveness", metavar="URL", help="serve liveness, e.g. http://0.0.0.0:8080/healthz"
    )
    parser.add_argument(
        "--metrics",
        metavar="HOST:PORT",
        type=_listen_address,
        help="serve Prometheus metrics at /metrics there, e.g. 0.0.0.0:8080 (default: not served)",
    )
    parser.add_argument("--peering", metavar="NAME", help="peering object for standby replicas")
    parser.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        default="info",
        help="what the operator logs: debug, info (default) or warning and above",
    )
    parser.add_argument(
        "--resync-interval",
        type=float,
        default=defaults.resync_seconds,
        help="seconds between observations of a settled pool",
    )
    parser.add_argument(
        "--stalled-interval",
        type=float,
        default=defaults.stalled_seconds,
        help="seconds a Stalled pool waits when nothing changes",
    )
    parser.add_argument(
        "--progress-interval",
        type=float,
        default=defaults.progress_seconds,
        help="seconds between passes while operations progress",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=defaults.concurrency,
        help="Azure writes in flight per pool",
    )
    parser.add_argument(
        "--polling-interval",
        type=float,
        default=defaults.polling_interval,
        help="seconds between polls of an Azure operation without Retry-After",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import kopf

    from vmroll.handlers import operator  # noqa: F401  (importing registers the handlers)

    config = RunConfig(
        resync_seconds=args.resync_interval,
        stalled_seconds=args.stalled_interval,
        progress_seconds=args.progress_interval,
        concurrency=args.concurrency,
        polling_interval=args.polling_interval,
        metrics=args.metrics,
    )
    kopf.configure(verbose=args.log_level == "debug", quiet=args.log_level == "warning")
    kopf.run(
        clusterwide=not args.namespace,
        namespaces=args.namespace,
        standalone=args.peering is None,
        peering_name=args.peering,
        liveness_endpoint=args.liveness,
        memo=kopf.Memo(config=config),
    )
    return 0


def _listen_address(text: str) -> ListenAddress:
    try:
        return ListenAddress.parse(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error
