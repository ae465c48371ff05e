"""The rule, as a property on the real kube-apiserver with the webhook registered: every pool and
account the API server accepts parses with the operator's own models.

Hypothesis builds objects from a valid one by replacing a few fields with values near the edges
of what Azure and Kubernetes take (image versions past 32 bits, tag names of 0 or 600
characters, resource IDs with whitespace or a non-GUID subscription, label selectors Kubernetes
would refuse, ...), submits each as a server-side dry-run create (the API server runs its
schema, its CEL rules and the webhook, and stores nothing), and parses whatever comes back
accepted. The examples must reach all three outcomes (accepted, refused by the schema, refused
by the webhook), or the property would hold for want of trying.
"""

from __future__ import annotations

import copy
from collections import Counter
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from pool_helpers import Operator

from vmroll.api.account import AzureAccount
from vmroll.api.pool import VirtualMachinePool

pytestmark = pytest.mark.e2e
pytest_plugins = ("pool_fixtures", "webhook_fixtures")

EXAMPLES = 300
GUID = "00000000-0000-4000-8000-00000000a001"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBwXr7qJ8Ue6bS2dGf0a9bT4XqvD2Fh1nQj7k3mPz5Lc e2e@vmroll"
POOL: dict[str, Any] = {
    "apiVersion": "vmroll.io/v1alpha1",
    "kind": "VirtualMachinePool",
    "metadata": {"name": "prop"},
    "spec": {
        "accountRef": {"name": "emu"},
        "resourceGroup": "rg-vmroll",
        "location": "westeurope",
        "replicas": 2,
        "image": {"marketplace": {"publisher": "Canonical", "offer": "ubuntu-24_04-lts",
                                  "sku": "server", "version": "latest"}},
        "template": {"vmSize": "Standard_D2s_v5", "sshPublicKeys": [{"keyData": KEY}],
                     "subnetId": f"/subscriptions/{GUID}/resourceGroups/rg/providers/"
                                 "Microsoft.Network/virtualNetworks/v/subnets/s"},
    },
}  # fmt: skip
ACCOUNT: dict[str, Any] = {
    "apiVersion": "vmroll.io/v1alpha1",
    "kind": "AzureAccount",
    "metadata": {"name": "prop"},
    "spec": {"subscriptionId": GUID, "tenantId": GUID, "auth": {"defaultChain": {}},
             "allowedResourceGroups": ["*"]},
}  # fmt: skip

digits = st.from_regex(r"\A[0-9]{1,11}\Z")
versions = st.one_of(
    st.just("latest"),
    st.builds(lambda a, b, c: f"{a}.{b}.{c}", digits, digits, digits),
    st.sampled_from(["1.2", "1.2.3.4", " 1.2.3", "2147483647.0.2147483647"]),
)
names = st.one_of(
    st.text(st.characters(codec="ascii"), min_size=0, max_size=8),
    st.sampled_from(["rg", "a b", "x\t", "Microsoft.Compute"]),
)
subscriptions = st.one_of(st.just(GUID), st.sampled_from(["sub", GUID + " ", GUID.upper()]))
subnets = st.builds(
    lambda sub, group, net, subnet: f"/subscriptions/{sub}/resourceGroups/{group}/providers/"
    f"Microsoft.Network/virtualNetworks/{net}/subnets/{subnet}",
    subscriptions, names, names, names,
)  # fmt: skip
galleries = st.builds(
    lambda sub, group, gallery, image, version: {
        "imageId": f"/subscriptions/{sub}/resourceGroups/{group}/providers/"
        f"Microsoft.Compute/galleries/{gallery}/images/{image}", "version": version},
    subscriptions, names, names, names, versions,
)  # fmt: skip
tag_names = st.one_of(
    st.text(st.characters(codec="ascii", exclude_categories=["Cc"]), min_size=0, max_size=12),
    st.integers(min_value=500, max_value=600).map(lambda n: "t" * n),
)
tags = st.dictionaries(tag_names, st.text(max_size=8), max_size=3)
label_keys = st.one_of(
    st.from_regex(r"\A[a-z]{1,8}(/[a-z]{1,8})?\Z"),
    st.integers(min_value=60, max_value=70).map(lambda n: "k" * n),
    st.integers(min_value=250, max_value=256).map(lambda n: "p" * n + "/team"),
    st.sampled_from(["-bad", "a/b/c", "team/"]),
)
label_values = st.one_of(st.from_regex(r"\A[a-z0-9]{0,6}\Z"), st.sampled_from(["-x", "a b"]))
requirements = st.fixed_dictionaries(
    {"key": label_keys,
     "operator": st.sampled_from(["In", "NotIn", "Exists", "DoesNotExist"])},
    optional={"values": st.lists(label_values, max_size=2)},
)  # fmt: skip
selectors = st.fixed_dictionaries(
    {},
    optional={
        "matchLabels": st.dictionaries(label_keys, label_values, max_size=2),
        "matchExpressions": st.lists(requirements, max_size=2),
    },
)
POOL_CHANGES = {
    "image.marketplace.version": versions,
    "image": galleries.map(lambda gallery: {"gallery": gallery}),
    "template.subnetId": subnets,
    "template.tags": tags,
    "replicas": st.integers(min_value=-1, max_value=1001),
    "resourceGroup": names,
}


def _pool_of(changes: dict[str, Any]) -> dict[str, Any]:
    pool = copy.deepcopy(POOL)
    for path, value in changes.items():
        *parents, leaf = path.split(".")
        node = pool["spec"]
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    return pool


pools = st.dictionaries(
    st.sampled_from(sorted(POOL_CHANGES)), st.none(), min_size=1, max_size=3
).flatmap(
    lambda chosen: st.fixed_dictionaries({path: POOL_CHANGES[path] for path in chosen})
).map(_pool_of)  # fmt: skip
accounts = selectors.map(
    lambda selector: {**ACCOUNT,
                      "spec": {**ACCOUNT["spec"], "allowedNamespaces": {"selector": selector}}}
)  # fmt: skip


def _submit(api: client.ApiClient, namespace: str, document: dict[str, Any]) -> Any:
    custom = client.CustomObjectsApi(api)
    if document["kind"] == "AzureAccount":
        return custom.create_cluster_custom_object(
            "vmroll.io", "v1alpha1", "azureaccounts", document, dry_run="All"
        )
    return custom.create_namespaced_custom_object(
        "vmroll.io", "v1alpha1", namespace, "virtualmachinepools", document, dry_run="All"
    )


def test_every_accepted_object_parses_with_the_operators_models(
    k8s_client: client.ApiClient, namespace: str, serving_operator: Operator
) -> None:
    outcomes: Counter[str] = Counter()

    @settings(max_examples=EXAMPLES, deadline=None, database=None)
    @given(document=st.one_of(pools, accounts))
    def accepted_ones_parse(document: dict[str, Any]) -> None:
        try:
            stored = _submit(k8s_client, namespace, document)
        except ApiException as error:
            if error.status not in (400, 422):
                raise  # not a refusal of the object: the API server or the webhook failed
            refused_by = "webhook" if "denied the request" in (error.body or "") else "schema"
            outcomes[refused_by] += 1
            return
        written = {key: value for key, value in stored.items() if key != "status"}
        model = AzureAccount if stored["kind"] == "AzureAccount" else VirtualMachinePool
        model.model_validate(written)
        outcomes["accepted"] += 1

    accepted_ones_parse()
    assert set(outcomes) == {"accepted", "schema", "webhook"}, outcomes
