"""Namespace labels as kopf's watch of namespaces holds them.

An AzureAccount that admits namespaces by label makes each pass of each of its pools judge the
pool's namespace by its labels. Reading the namespace from the API server at every pass cost a
GET per pool per resync: at 1,000 pools, most of the operator's idle CPU. kopf's index follows
every namespace's labels as the watch delivers them, at least as fresh as a read at the start
of the pass was; a namespace the index does not hold (yet) is read as before. A change of a
namespace's labels wakes its paused pools (handlers/wakeups.py): a pool refused for a missing
label passes again as soon as the label is set, not at its next resync.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import kopf

from vmroll.handlers.kube import KubeApi

NAMESPACE_INDEX = "namespace_labels_by_name"
"""kopf passes each index to handlers as a keyword named after the index function."""


@kopf.index("", "v1", "namespaces")
def namespace_labels_by_name(
    name: str | None, labels: Mapping[str, str], **_: Any
) -> dict[str | None, dict[str, str]]:
    return {name: dict(labels)}


@kopf.on.event("", "v1", "namespaces")
async def namespace_event(name: str | None, memo: kopf.Memo, **_: Any) -> None:
    """After the index took the change: the namespace's paused pools compare its labels with
    those they last acted on."""
    memo.state.wakeups.namespace(name)


async def labels_of(
    kube: KubeApi, index: Mapping[Any, Any] | None, namespace: str
) -> dict[str, str]:
    """The namespace's labels as the index holds them, else as the API server has them."""
    indexed = indexed_labels(index, namespace)
    return indexed if indexed is not None else await kube.namespace_labels(namespace) or {}


def indexed_labels(index: Mapping[Any, Any] | None, namespace: str) -> dict[str, str] | None:
    """The namespace's labels as the index holds them; None when it holds none."""
    held = list(index.get(namespace, ())) if index is not None else []
    return dict(held[0]) if held else None
