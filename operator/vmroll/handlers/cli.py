"""`vmroll run`: the operator against the current kubeconfig (or in-cluster configuration).

Clusterwide unless `--namespace` is given. With `--leader-elect`, the operator acts only while
it holds a Lease (`vmroll.handlers.leader_election`), so that a second replica stands by.
`--metrics HOST:PORT` serves Prometheus metrics at /metrics. `--webhook HOST:PORT` serves the
validating admission webhook (`vmroll.admission`) over HTTPS with the certificate in
`--webhook-cert-dir`, in every replica, leader or not, refusing pools that a Deny ImagePolicy
forbids (`vmroll.admission.policy_check`). kopf handles SIGTERM and SIGINT:
handlers finish or are cancelled, and the process exits 0. It exits 1 if kopf's scan of the API
server missed vmroll's resources (`vmroll.handlers.discovery`), so that a restart scans again.
The flags are a contract with the Helm chart (charts/vmroll/templates/deployment.yaml), which
passes them from its values.

Trust is off by default: AzureAccounts may use only the known Azure clouds' endpoints unless
`--allow-custom-endpoints` is given (the emulator needs it), and their Secrets are read only from
`--cluster-resource-namespace` (the pod's own namespace in a cluster).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from vmroll.handlers.run_config import (
    DEFAULT_CLUSTER_RESOURCE_NAMESPACE,
    ListenAddress,
    RunConfig,
)

POD_NAMESPACE_VARIABLE = "POD_NAMESPACE"
DEFAULT_WEBHOOK_CERT_DIR = "/etc/vmroll/webhook"

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
    parser.add_argument(
        "--webhook",
        metavar="HOST:PORT",
        type=_listen_address,
        help="serve the validating admission webhook there over HTTPS, e.g. 0.0.0.0:9443, in "
        "every replica (default: not served)",
    )
    parser.add_argument(
        "--webhook-cert-dir",
        metavar="DIR",
        type=Path,
        default=Path(DEFAULT_WEBHOOK_CERT_DIR),
        help="the webhook's certificate and key, tls.crt and tls.key "
        f"(default: {DEFAULT_WEBHOOK_CERT_DIR})",
    )
    parser.add_argument(
        "--leader-elect",
        action="store_true",
        help="act only while holding a Lease, so that more replicas stand by",
    )
    parser.add_argument(
        "--leader-election-namespace",
        metavar="NS",
        help=f"namespace of the Lease (default: ${POD_NAMESPACE_VARIABLE})",
    )
    parser.add_argument(
        "--leader-election-name",
        metavar="NAME",
        default="vmroll",
        help="name of the Lease (default: vmroll)",
    )
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
        help="seconds between observations of a settled pool (pools at rest in one resource "
        "group: one list of it each interval)",
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
        "--retry-base-interval",
        type=float,
        default=defaults.retry_base_seconds,
        help="seconds before the first retry after a transient failure (backoff base)",
    )
    parser.add_argument(
        "--retry-max-interval",
        type=float,
        default=defaults.retry_max_seconds,
        help="the longest backoff between retries, unless Azure asks for longer",
    )
    parser.add_argument(
        "--concurrency",
        type=_at_least_one,
        default=defaults.concurrency,
        help="Azure writes in flight per pool",
    )
    parser.add_argument(
        "--concurrent-passes",
        type=_at_least_one,
        default=defaults.concurrent_passes,
        help="pools passing at once; the others wait their turn (bounds memory at start)",
    )
    parser.add_argument(
        "--polling-interval",
        type=float,
        default=defaults.polling_interval,
        help="seconds between polls of an Azure operation without Retry-After",
    )
    parser.add_argument(
        "--allow-custom-endpoints",
        action="store_true",
        help="let AzureAccounts use endpoints outside the public, China and US Government "
        "clouds, and CA bundles (the local emulator needs this)",
    )
    parser.add_argument(
        "--cluster-resource-namespace",
        metavar="NS",
        default=os.environ.get(POD_NAMESPACE_VARIABLE) or DEFAULT_CLUSTER_RESOURCE_NAMESPACE,
        help="the only namespace whose Secrets and ConfigMaps AzureAccounts may reference "
        f"(default: ${POD_NAMESPACE_VARIABLE}, else {DEFAULT_CLUSTER_RESOURCE_NAMESPACE})",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    lease_namespace = args.leader_election_namespace or os.environ.get(POD_NAMESPACE_VARIABLE)
    if args.leader_elect and not lease_namespace:
        print(
            "vmroll run: error: --leader-elect needs the Lease's namespace: pass "
            f"--leader-election-namespace NS or set {POD_NAMESPACE_VARIABLE}",
            file=sys.stderr,
        )
        return 2

    import asyncio

    import kopf

    from vmroll.handlers import (
        leader_election,
        operator,  # noqa: F401  (importing registers the handlers)
    )
    from vmroll.handlers.discovery import ResourcesNotServed, exit_if_unserved

    config = RunConfig(
        resync_seconds=args.resync_interval,
        stalled_seconds=args.stalled_interval,
        progress_seconds=args.progress_interval,
        retry_base_seconds=args.retry_base_interval,
        retry_max_seconds=args.retry_max_interval,
        concurrency=args.concurrency,
        concurrent_passes=args.concurrent_passes,
        polling_interval=args.polling_interval,
        metrics=args.metrics,
        allow_custom_endpoints=args.allow_custom_endpoints,
        cluster_resource_namespace=args.cluster_resource_namespace,
    )
    kopf.configure(verbose=args.log_level == "debug", quiet=args.log_level == "warning")

    async def act(
        stopping: asyncio.Event | None = None, started: asyncio.Event | None = None
    ) -> None:
        stop = stopping or asyncio.Event()
        with exit_if_unserved(stop):
            await kopf.operator(
                clusterwide=not args.namespace,
                namespaces=args.namespace,
                standalone=True,
                liveness_endpoint=args.liveness,
                memo=kopf.Memo(config=config),
                stop_flag=stop,
                ready_flag=started,
            )

    if not args.leader_elect:

        async def operate() -> int:
            await act()
            return 0
    else:
        assert lease_namespace  # checked above, before the heavy imports
        election = leader_election.Election(
            namespace=lease_namespace, name=args.leader_election_name
        )

        async def operate() -> int:
            return await leader_election.lead(election, act, args.liveness)

    try:
        return asyncio.run(with_webhook(args.webhook, args.webhook_cert_dir, operate))
    except ResourcesNotServed as error:
        print(f"vmroll run: error: {error}", file=sys.stderr)
        return 1


async def with_webhook(
    address: ListenAddress | None, cert_dir: Path, operate: Callable[[], Awaitable[int]]
) -> int:
    """Serve the webhook, when asked, for as long as the operator runs, leader or not."""
    if address is None:
        return await operate()
    from kubernetes.config import ConfigException

    from vmroll.admission.policy_check import DenyPolicies
    from vmroll.admission.server import ServingCertificate, WebhookThread
    from vmroll.handlers.kube import KubeApi, load_api_client

    certificate = ServingCertificate.in_directory(cert_dir)
    try:
        # The certificate first: a missing one is the likelier mistake, and names its flag.
        certificate.ssl_context()
        deny = DenyPolicies(KubeApi(load_api_client()), lambda: datetime.now(UTC))
        webhook = await WebhookThread.start(address.host, address.port, certificate, [deny])
    except OSError as error:
        print(
            f"vmroll run: error: cannot serve the webhook on {address.host}:{address.port} "
            f"with {cert_dir}: {error.strerror or error}; fix --webhook or --webhook-cert-dir",
            file=sys.stderr,
        )
        return 1
    except ConfigException as error:
        print(
            f"vmroll run: error: the webhook reads ImagePolicies but finds no Kubernetes "
            f"configuration: {error}; run in a pod or set KUBECONFIG",
            file=sys.stderr,
        )
        return 1
    try:
        return await operate()
    finally:
        await webhook.stop()


def _listen_address(text: str) -> ListenAddress:
    try:
        return ListenAddress.parse(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


def _at_least_one(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of 1 or more")
    return number
