"""Probes of a running control plane: etcd's /health, kube-apiserver's /readyz and /version.

The apiserver is probed as the admin user over TLS that verifies the serving CA, exactly as
kubectl will talk to it, so "ready" here means ready for kubectl too.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from typing import Any

from vmroll.devcluster.certs import Pki

PROBE_TIMEOUT_SECONDS = 2.0


def admin_tls(pki: Pki) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki.serving_ca))
    context.load_cert_chain(str(pki.admin_cert), str(pki.admin_key))
    return context


def get(url: str, context: ssl.SSLContext | None = None) -> tuple[int, bytes] | None:
    """Status and body of a GET, or None when nothing answers (yet)."""
    try:
        with urllib.request.urlopen(url, timeout=PROBE_TIMEOUT_SECONDS, context=context) as reply:
            status: int = reply.status
            return status, reply.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read()
    except (urllib.error.URLError, OSError):
        return None


def etcd_healthy(etcd_url: str) -> bool:
    answer = get(f"{etcd_url}/health")
    if answer is None or answer[0] != 200:
        return False
    health: dict[str, Any] = json.loads(answer[1])
    return health.get("health") == "true"


def apiserver_ready(server: str, context: ssl.SSLContext) -> bool:
    readyz = get(f"{server}/readyz", context)
    if readyz is None or readyz[0] != 200:
        return False
    namespace = get(f"{server}/api/v1/namespaces/default", context)
    return namespace is not None and namespace[0] == 200


def apiserver_version(server: str, context: ssl.SSLContext) -> str | None:
    answer = get(f"{server}/version", context)
    if answer is None or answer[0] != 200:
        return None
    version: dict[str, Any] = json.loads(answer[1])
    git_version = version.get("gitVersion")
    return git_version if isinstance(git_version, str) else None


def etcd_version(etcd_url: str) -> str | None:
    answer = get(f"{etcd_url}/version")
    if answer is None or answer[0] != 200:
        return None
    version: dict[str, Any] = json.loads(answer[1])
    server = version.get("etcdserver")
    return f"v{server}" if isinstance(server, str) else None
