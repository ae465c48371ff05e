"""The kubeconfig of a local control plane: self-contained, with the certificates inlined.

Inlined data (rather than file paths) keeps the file usable when copied elsewhere, and works the
same for kubectl, the `kubernetes` client and kopf.
"""

from __future__ import annotations

import base64
from pathlib import Path

import yaml

from vmroll.devcluster.certs import Pki


def _data(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def render_kubeconfig(name: str, server: str, pki: Pki, user: str = "admin") -> str:
    """A kubeconfig for `user`, one of the client identities of `certs.CLIENT_IDENTITIES`."""
    context = f"vmroll-{name}"
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": context,
                "cluster": {
                    "server": server,
                    "certificate-authority-data": _data(pki.serving_ca),
                },
            }
        ],
        "users": [
            {
                "name": f"{context}-{user}",
                "user": {
                    "client-certificate-data": _data(pki.client_cert(user)),
                    "client-key-data": _data(pki.client_key(user)),
                },
            }
        ],
        "contexts": [
            {
                "name": context,
                "context": {"cluster": context, "user": f"{context}-{user}"},
            }
        ],
        "current-context": context,
        "preferences": {},
    }
    return yaml.safe_dump(config, sort_keys=False)
