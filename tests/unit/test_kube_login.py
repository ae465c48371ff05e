"""kopf's session to the API server: logged in as kopf would, its connections capped."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import kopf
import pytest
import yaml
from kubernetes import client
from kubernetes.config import kube_config

from vmroll.handlers.kube_login import KUBE_CONNECTIONS, login

SERVER = "https://127.0.0.1:6443"


@pytest.fixture
def kubeconfig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "kubeconfig"
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {"name": "c", "cluster": {"server": SERVER, "insecure-skip-tls-verify": True}}
                ],
                "users": [{"name": "u", "user": {"token": "t0ken"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    # The client reads KUBECONFIG once, when it is imported.
    monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(path))
    saved = client.Configuration.get_default_copy()
    yield path
    client.Configuration.set_default(saved)


async def test_login_hands_kopf_a_session_with_capped_connections(kubeconfig: Path) -> None:
    context = await login(logger=logging.getLogger("test"), settings=kopf.OperatorSettings())
    assert isinstance(context, kopf.AiohttpSession)
    session = context.aiohttp_session
    try:
        assert context.server == SERVER
        assert session.connector is not None
        assert session.connector.limit == KUBE_CONNECTIONS
        assert session.headers["Authorization"] == "Bearer t0ken"
    finally:
        await session.close()
