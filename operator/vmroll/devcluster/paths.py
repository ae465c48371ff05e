"""Where the local control plane keeps things: built binaries, instance state, Go sources.

Everything lives outside the repository: binaries under the cache root (shared by every
checkout and instance), one state directory per running instance. Both can be redirected by
environment variables, which the tests use to work in throwaway directories.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from vmroll.devcluster.errors import DevclusterError, SourceTreeMissing

CACHE_DIR_VARIABLE = "VMROLL_CACHE_DIR"
STATE_DIR_VARIABLE = "VMROLL_STATE_DIR"
# An existing cluster to use instead of starting one. A vmroll variable rather than KUBECONFIG,
# so that tests never create objects in a user's everyday cluster by accident.
KUBECONFIG_VARIABLE = "VMROLL_KUBECONFIG"
DEFAULT_INSTANCE_NAME = "default"

_INSTANCE_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$")

# operator/vmroll/devcluster/paths.py -> the checkout's root is three directories up.
_SOURCE_ROOT = Path(__file__).resolve().parents[3]
HACK_ROOT = _SOURCE_ROOT / "hack"


def cache_root(environ: Mapping[str, str] = os.environ) -> Path:
    """The root of vmroll's cache: `$VMROLL_CACHE_DIR`, else `$XDG_CACHE_HOME/vmroll`."""
    if explicit := environ.get(CACHE_DIR_VARIABLE):
        return Path(explicit).expanduser()
    xdg = environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg).expanduser() / "vmroll"


def tools_root(tool_set: str, environ: Mapping[str, str] = os.environ) -> Path:
    """Where the built binaries of one tool set live, a directory per version and key."""
    return cache_root(environ) / tool_set


def state_root(environ: Mapping[str, str] = os.environ) -> Path:
    """The parent of every instance's state: `$VMROLL_STATE_DIR`, else `<cache>/devcluster`."""
    if explicit := environ.get(STATE_DIR_VARIABLE):
        return Path(explicit).expanduser()
    return cache_root(environ) / "devcluster"


def existing_cluster_kubeconfig(environ: Mapping[str, str] = os.environ) -> Path | None:
    """The kubeconfig named by VMROLL_KUBECONFIG, if set: use that cluster, start none."""
    explicit = environ.get(KUBECONFIG_VARIABLE)
    if not explicit:
        return None
    kubeconfig = Path(explicit).expanduser()
    if not kubeconfig.is_file():
        raise DevclusterError(
            f"{KUBECONFIG_VARIABLE}={explicit} is not a file: point it at the kubeconfig of the "
            f"cluster to use, or unset it to start a local control plane"
        )
    return kubeconfig


def instance_dir(name: str, environ: Mapping[str, str] = os.environ) -> Path:
    if not _INSTANCE_NAME.match(name):
        raise DevclusterError(
            f"invalid instance name {name!r}: use 1-40 lowercase letters, digits and '-', "
            "starting and ending with a letter or digit"
        )
    return state_root(environ) / name


def wrapper_module(name: str, modules: Path) -> Path:
    """The Go wrapper module `name` under `modules` (a directory of the source checkout)."""
    module = modules / name
    if not (module / "go.mod").is_file():
        raise SourceTreeMissing(
            f"the Go module {module} is missing: building the local stack's tools needs vmroll's "
            "source checkout (install it with `pip install -e .` from a clone), or set "
            "VMROLL_KUBECONFIG to use an existing cluster instead"
        )
    return module
