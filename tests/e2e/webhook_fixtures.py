"""Fixtures of the admission webhook's e2e tests: a webhook registered for the test namespace
with a CA of its own, and the operator serving it. A module uses them with
`pytest_plugins = ("webhook_fixtures",)` (with pool_fixtures, for the CRDs).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_harness import Cluster, Kubectl, wait_for
from pool_helpers import Operator
from webhook_helpers import Webhook, registered_webhook, serving, webhook_operator


@pytest.fixture
def webhook(kubectl: Kubectl, namespace: str, tmp_path: Path) -> Iterator[Webhook]:
    with registered_webhook(kubectl, namespace, tmp_path / "webhook") as registered:
        yield registered


@pytest.fixture
def serving_operator(
    cluster: Cluster, namespace: str, tmp_path: Path, webhook: Webhook, pool_crds: tuple[str, ...]
) -> Iterator[Operator]:
    """`vmroll run --webhook` for the test namespace, once its webhook completes a handshake."""
    operator = webhook_operator(cluster, namespace, tmp_path / "operator.log", webhook)
    try:
        wait_for("the webhook to serve", lambda: serving(webhook), describe=operator.output)
        yield operator
    finally:
        operator.stop()
