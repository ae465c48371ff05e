"""Issue 9's remaining figure: the chart's admission webhook served by the operator pod on the
local node, called by the kube-apiserver through the chart's Service.

Starts the local stack with a node and no operator process (as operator_pod.py does), imports
the image, `helm install`s the chart with `webhook.enabled=true` (host networking, free host
ports) and times install -> operator pod Ready. Then, as webhook_latency.py does for the
webhook at 127.0.0.1, times `--admissions` sequential server-side dry-run creates: accepted,
refused by the webhook (a version part beyond 32 bits), with a Deny ImagePolicy selecting the
namespace accepted and refused (a denied version), and accepted once the chart's
ValidatingWebhookConfiguration is deleted. The API server reaches the pod at the Service's ready
endpoint (the node's apiserver routes to endpoints; there is no kube-proxy) over TLS verified
against the chart's CA bundle.

    .venv/bin/python benchmarks/webhook_pod.py [--admissions 300]
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import subprocess
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import yaml
from _stack import bench_stack, load_average, pool_manifest, source_version, wait_until
from kubernetes import client, config
from webhook_latency import DENIED, DENY_POLICY, POLICY, TOO_BIG, admit, percentile, timed

from vmroll.api.base import GROUP, VERSION
from vmroll.api.policy import PLURAL as POLICY_PLURAL
from vmroll.chart.helm import ensure_helm
from vmroll.devcluster.ports import free_port
from vmroll.devstack.stack import DevStack
from vmroll.imagebuild.build import build_image

REPO = Path(__file__).resolve().parents[1]
CHART = REPO / "charts" / "vmroll"
RELEASE, RELEASE_NAMESPACE = "vmroll", "vmroll-system"
TIMEOUT_SECONDS = 300.0


def _pod_ready(dev: DevStack) -> bool:
    pods = json.loads(dev.kubectl_run("get", "pods", "-n", RELEASE_NAMESPACE, "-o", "json"))
    return any(
        condition["type"] == "Ready" and condition["status"] == "True"
        for pod in pods["items"]
        for condition in pod.get("status", {}).get("conditions", [])
    )


def _values(dev: DevStack, path: Path) -> Path:
    assert dev.control_plane is not None
    path.write_text(yaml.safe_dump({
        "crds": {"install": False},
        "hostNetwork": True,
        "azure": {"allowCustomEndpoints": True},
        "health": {"port": free_port()},
        "metrics": {"port": free_port()},
        "webhook": {"enabled": True, "port": free_port()},
        "extraEnv": [
            {"name": "KUBERNETES_SERVICE_HOST", "value": "127.0.0.1"},
            {"name": "KUBERNETES_SERVICE_PORT", "value": str(dev.control_plane.ports.apiserver)},
        ],
    }))  # fmt: skip
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--admissions", type=int, default=300)
    args = parser.parse_args()
    print(source_version(), "|", load_average(), flush=True)
    good = pool_manifest("bench-webhook", 1)
    bad = copy.deepcopy(good)
    bad["spec"]["image"]["marketplace"]["version"] = TOO_BIG
    denied = pool_manifest("bench-webhook", 1, version=DENIED)
    image = build_image(report=lambda _line: None)
    helm = str(ensure_helm(report=lambda _line: None))
    results = []
    with ExitStack() as stack, tempfile.TemporaryDirectory() as work:
        dev = stack.enter_context(bench_stack(run_operator=False, with_node=True))
        assert dev.control_plane is not None
        dev.control_plane.node.import_image(image.archive)
        started = time.monotonic()
        installed = subprocess.run(
            [helm, "--kubeconfig", str(dev.kubeconfig), "install", RELEASE, str(CHART),
             "-n", RELEASE_NAMESPACE, "--values", str(_values(dev, Path(work) / "values.yaml"))],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if installed.returncode != 0:
            raise SystemExit(f"helm install failed:\n{installed.stderr}")
        wait_until("the operator pod Ready", lambda: _pod_ready(dev), TIMEOUT_SECONDS)
        pod_ready = time.monotonic() - started
        api_client = config.new_client_from_config(config_file=str(dev.kubeconfig))  # type: ignore[no-untyped-call]
        api = client.CustomObjectsApi(api_client)
        wait_until("the pod's webhook to refuse", lambda: not admit(api, bad), 60)
        webhook_refusing = time.monotonic() - started
        results.append(timed("pod webhook, accepted", args.admissions,
                             lambda: admit(api, good), True))  # fmt: skip
        results.append(timed("pod webhook, refused", args.admissions,
                             lambda: admit(api, bad), False))  # fmt: skip
        api.create_cluster_custom_object(GROUP, VERSION, POLICY_PLURAL, DENY_POLICY)
        try:
            wait_until("the Deny policy to refuse", lambda: not admit(api, denied), 60)
            results.append(timed("Deny policy, accepted", args.admissions,
                                 lambda: admit(api, good), True))  # fmt: skip
            results.append(timed("Deny policy, refused", args.admissions,
                                 lambda: admit(api, denied), False))  # fmt: skip
        finally:
            api.delete_cluster_custom_object(GROUP, VERSION, POLICY_PLURAL, POLICY)
        dev.kubectl_run("delete", "validatingwebhookconfiguration", RELEASE)
        wait_until("the API server to drop the webhook", lambda: admit(api, bad), 60)
        results.append(timed("no webhook, accepted", args.admissions,
                             lambda: admit(api, good), True))  # fmt: skip

    print(f"\nhelm install -> operator pod Ready: {pod_ready:.1f} s; "
          f"-> the webhook refusing through the Service: {webhook_refusing:.1f} s")  # fmt: skip
    print(f"{args.admissions} sequential server-side dry-run creates each, milliseconds:")
    print(f"{'':24} {'p50':>7} {'p90':>7} {'p99':>7} {'max':>7} {'mean':>7}")
    for label, samples in results:
        figures = [percentile(samples, 0.5), percentile(samples, 0.9),
                   percentile(samples, 0.99), max(samples), statistics.fmean(samples)]  # fmt: skip
        print(f"{label:24} " + " ".join(f"{value:7.2f}" for value in figures))


if __name__ == "__main__":
    main()
