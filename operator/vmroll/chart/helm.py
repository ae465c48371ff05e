"""Run helm on the chart: `template` for the kustomize base and the tests, `lint` for the tests.

helm is the devcluster's "helm" tool set, built from its Go module and cached like the control
plane. Every invocation goes through here, so that `vmroll manifests` and the tests render the
chart exactly the same way. helm's default Kubernetes version is whatever its build stamped, so
the version of the local control plane is always passed explicitly.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

from vmroll.devcluster.build import ensure_tools
from vmroll.devcluster.toolsets import HELM_SET
from vmroll.devcluster.versions import HELM, KUBERNETES_VERSION


class HelmFailed(Exception):
    """helm exited non-zero; the message carries its stderr (which names the offending value)."""


def ensure_helm(report: Callable[[str], None] = print) -> Path:
    """The cached helm binary, built first when missing."""
    return ensure_tools(HELM_SET, report=report).binary(HELM)


def run_helm(helm: Path, *args: str) -> str:
    completed = subprocess.run(
        [str(helm), *args], capture_output=True, text=True, check=False, timeout=120
    )
    if completed.returncode != 0:
        raise HelmFailed(
            f"helm {' '.join(args)} exited {completed.returncode}:\n{completed.stderr}"
        )
    return completed.stdout


def template(
    helm: Path,
    chart: Path,
    *,
    release: str,
    namespace: str,
    values_files: Sequence[Path] = (),
) -> str:
    args = ["template", release, str(chart), "--namespace", namespace]
    for values in values_files:
        args += ["--values", str(values)]
    return run_helm(helm, *args, "--kube-version", KUBERNETES_VERSION)
