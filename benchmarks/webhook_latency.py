"""Issue 9 item 3's figure: how long the API server takes to admit a pool with vmroll's
validating webhook in the path, and how much of that is the webhook.

Starts the local stack as `vmroll dev` does (`DevStack`: the operator serves the webhook at
https://127.0.0.1:<port> with the stack's own CA, registered as `vmroll-dev`), waits for the
operator, then times `--admissions` server-side dry-run creates of examples/local/pool.yaml
through the Kubernetes API from this process (the API server runs its schema, CEL rules and
the webhook, and stores nothing): accepted ones, then refused ones (an image version part
beyond Azure's 32-bit range, which only the webhook refuses). Then it creates a Deny
ImagePolicy that selects the namespace by label, so that each review reads the policies and the
namespace from the API server, and times accepted creates and creates of a version the policy
denies; it deletes the policy. Then it deletes the webhook's
registration and times the same accepted creates again: the difference between the two
accepted series is the webhook's share (the API server's call over TLS, the review, the JSON
both ways). For scale, the review alone (`vmroll.admission.review.review` on the same object,
in this process, no network) is timed too. Latency is wall time of each request, measured
sequentially after a few warm-up requests.

    .venv/bin/python benchmarks/webhook_latency.py [--admissions 300]
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import statistics
import time
from collections.abc import Callable
from typing import Any

from _stack import (
    NAMESPACE,
    Pools,
    bench_stack,
    load_average,
    pool_manifest,
    source_version,
    wait_operator_up,
    wait_until,
)
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from vmroll.admission.review import review
from vmroll.api.base import GROUP, VERSION
from vmroll.api.policy import PLURAL as POLICY_PLURAL
from vmroll.api.pool import PLURAL
from vmroll.devstack.stack import WEBHOOK_CONFIGURATION

WARM_UP = 10
TOO_BIG = "1.0.2147483648"
DENIED = "24.04.202610220"
POLICY = "bench-deny"
DENY_POLICY = {
    "apiVersion": f"{GROUP}/{VERSION}",
    "kind": "ImagePolicy",
    "metadata": {"name": POLICY},
    "spec": {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": NAMESPACE}},
        "rules": {"deniedVersions": [{"version": DENIED, "reason": "benchmark"}]},
        "enforcement": "Deny",
    },
}


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def admit(api: client.CustomObjectsApi, manifest: dict[str, Any]) -> bool:
    """One dry-run create: True when admitted, False when refused."""
    try:
        api.create_namespaced_custom_object(
            GROUP, VERSION, NAMESPACE, PLURAL, manifest, dry_run="All"
        )
    except ApiException as error:
        if error.status not in (400, 422):
            raise
        return False
    return True


def timed(
    label: str, count: int, call: Callable[[], bool], expect: bool
) -> tuple[str, list[float]]:
    for _ in range(WARM_UP):
        call()
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        outcome = call()
        samples.append((time.perf_counter() - started) * 1000)
        assert outcome == expect, f"{label}: expected admitted={expect}"
    return label, samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--admissions", type=int, default=300)
    args = parser.parse_args()
    print(source_version(), "|", load_average(), flush=True)

    good = pool_manifest("bench-webhook", 1)
    bad = copy.deepcopy(good)
    bad["spec"]["image"]["marketplace"]["version"] = TOO_BIG
    denied = pool_manifest("bench-webhook", 1, version=DENIED)
    request = {"uid": "bench", "operation": "CREATE", "object": good,
               "kind": {"group": GROUP, "version": VERSION, "kind": good["kind"]}}  # fmt: skip

    loop = asyncio.new_event_loop()

    def review_alone() -> bool:
        allowed: bool = loop.run_until_complete(review({"request": request}))["response"]["allowed"]
        return allowed

    try:
        results = [timed("review alone, in process", args.admissions, review_alone, True)]
    finally:
        loop.close()
    with bench_stack() as dev:
        wait_operator_up(Pools(dev.kubeconfig))
        api_client = config.new_client_from_config(config_file=str(dev.kubeconfig))  # type: ignore[no-untyped-call]
        api = client.CustomObjectsApi(api_client)

        def admit_good() -> bool:
            return admit(api, good)

        def admit_bad() -> bool:
            return admit(api, bad)

        wait_until("the webhook to refuse", lambda: not admit_bad(), 60)
        results.append(timed("webhook, accepted", args.admissions, admit_good, True))
        results.append(timed("webhook, refused", args.admissions, admit_bad, False))
        api.create_cluster_custom_object(GROUP, VERSION, POLICY_PLURAL, DENY_POLICY)
        try:

            def admit_denied() -> bool:
                return admit(api, denied)

            wait_until("the Deny policy to refuse", lambda: not admit_denied(), 60)
            results.append(timed("Deny policy, accepted", args.admissions, admit_good, True))
            results.append(timed("Deny policy, refused", args.admissions, admit_denied, False))
        finally:
            api.delete_cluster_custom_object(GROUP, VERSION, POLICY_PLURAL, POLICY)
        dev.kubectl_run("delete", "validatingwebhookconfiguration", WEBHOOK_CONFIGURATION)
        wait_until("the API server to drop the webhook", admit_bad, 60)
        results.append(timed("no webhook, accepted", args.admissions, admit_good, True))

    print(f"\n{args.admissions} sequential server-side dry-run creates each, milliseconds:")
    print(f"{'':24} {'p50':>7} {'p90':>7} {'p99':>7} {'max':>7} {'mean':>7}")
    for label, samples in results:
        figures = [percentile(samples, 0.5), percentile(samples, 0.9),
                   percentile(samples, 0.99), max(samples), statistics.fmean(samples)]  # fmt: skip
        print(f"{label:24} " + " ".join(f"{value:7.2f}" for value in figures))


if __name__ == "__main__":
    main()
