"""Run the built `helm` on the chart: `template` for the kustomize base and the tests, `lint`.

Every invocation goes through here, so that `vmroll manifests` and the tests render the chart
exactly the same way.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

from vmroll.devcluster.versions import KUBERNETES_VERSION

DEFAULT_RELEASE = "vmroll"
DEFAULT_NAMESPACE = "vmroll-system"


class HelmFailed(Exception):
    """helm exited non-zero; the message carries its stderr (which names the offending value)."""


def run_helm(helm: Path, *args: str) -> str:
    completed = subprocess.run(
        [str(helm), *args], capture_output=True, text=True, check=False, timeout=120
    )
    if completed.returncode != 0:
        raise HelmFailed(f"helm {' '.join(args)} exited {completed.returncode}:\n{completed.stderr}")
    return completed.stdout


def template(
    helm: Path,
    chart: Path,
    *,
    release: str = DEFAULT_RELEASE,
    namespace: str = DEFAULT_NAMESPACE,
    values_files: Sequence[Path] = (),
) -> str:
    """`helm template`, for the Kubernetes version the local control plane runs."""
    args = ["template", release, str(chart), "--namespace", namespace]
    args += ["--kube-version", KUBERNETES_VERSION]
    for values in values_files:
        args += ["--values", str(values)]
    return run_helm(helm, *args)
