"""AzureAccount: a subscription, how to authenticate to it, and who may use it.

Cluster-scoped, so that a platform team grants namespaces and resource groups access to a
subscription without handing out the credentials themselves.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Final, Literal

from pydantic import AfterValidator, ConfigDict, Field, model_validator
from pydantic.config import JsonDict

from vmroll.api.base import API_VERSION, ApiModel, cel, nested, validations
from vmroll.api.types import (
    CONDITIONS_SCHEMA_EXTRA,
    MAX_CONDITIONS,
    Condition,
    K8sName,
    NamespacedKeyReference,
    ObjectMeta,
)

KIND: Final = "AzureAccount"
PLURAL = "azureaccounts"
SINGULAR = "azureaccount"
SHORT_NAMES = ("azacct",)
ANY_RESOURCE_GROUP = "*"

UUID_PATTERN = r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$"
HTTPS_URL_PATTERN = r"^https://[^\s/]+(/[^\s]*)?$"
# Kubernetes' label rules (apimachinery's IsQualifiedName and IsValidLabelValue).
LABEL_NAME_PATTERN = r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
LABEL_KEY_PATTERN = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    + LABEL_NAME_PATTERN
    + "$"
)
MAX_LABEL_PREFIX = 253
MAX_LABEL_NAME = 63
LabelValue = Annotated[str, Field(max_length=63, pattern=rf"^({LABEL_NAME_PATTERN})?$")]
ResourceGroupOrAny = Annotated[
    str, Field(max_length=90, pattern=r"^(\*|[-A-Za-z0-9_.()]{0,89}[-A-Za-z0-9_()])$")
]


def _exactly_one(*fields: str) -> JsonDict:
    flags = ", ".join(f"has(self.{f})" for f in fields)
    names = ", ".join(fields[:-1]) + f" or {fields[-1]}"
    return validations(cel(f"[{flags}].filter(x, x).size() == 1", f"set exactly one of {names}"))


def _count_set(*values: object) -> int:
    return sum(value is not None for value in values)


def check_label_key(key: str) -> str:
    """What the pattern cannot say: the prefix and the name each within Kubernetes' lengths."""
    prefix, _, name = key.rpartition("/")
    if not re.fullmatch(LABEL_KEY_PATTERN, key):
        raise ValueError(
            f"label key {key!r} must be a name (letters, digits, -, _ and ., starting and "
            "ending with a letter or digit), optionally prefixed by a DNS subdomain and /"
        )
    if len(prefix) > MAX_LABEL_PREFIX or len(name) > MAX_LABEL_NAME:
        raise ValueError(
            f"label key {key!r}: the prefix may have at most {MAX_LABEL_PREFIX} characters and "
            f"the name at most {MAX_LABEL_NAME}"
        )
    return key


def _check_label_keys(labels: dict[str, str]) -> dict[str, str]:
    for key in labels:
        check_label_key(key)
    return labels


LabelKey = Annotated[
    str,
    Field(min_length=1, max_length=317, pattern=LABEL_KEY_PATTERN),
    AfterValidator(check_label_key),
]
_VALUES_MATCH_OPERATOR = (
    "values must be non-empty for In and NotIn, and empty for Exists and DoesNotExist"
)


class ClientSecretAuth(ApiModel):
    """A service principal's client secret, read from a Secret."""

    client_id: str = Field(pattern=UUID_PATTERN, description="Application (client) ID.")
    secret_ref: NamespacedKeyReference = Field(
        description="The Secret key holding the client secret."
    )


class WorkloadIdentityAuth(ApiModel):
    """Workload identity federation with the operator's own projected service-account token.

    The token file is always AZURE_FEDERATED_TOKEN_FILE of the operator's environment (set by
    the workload identity webhook), never a path from the account: a path would let whoever
    writes an AzureAccount make the operator read any file and send it to the authority.
    """

    client_id: str = Field(pattern=UUID_PATTERN, description="Application (client) ID.")


class DefaultChainAuth(ApiModel):
    """The default credential chain of the operator's environment (environment variables,
    workload identity, managed identity)."""


class AccountAuth(ApiModel):
    """How vmroll authenticates to the subscription. Set exactly one method."""

    model_config = ConfigDict(
        json_schema_extra=_exactly_one("clientSecret", "workloadIdentity", "defaultChain")
    )

    client_secret: ClientSecretAuth | None = Field(
        default=None, description="A service principal's client secret from a Secret."
    )
    workload_identity: WorkloadIdentityAuth | None = Field(
        default=None, description="Workload identity federation."
    )
    default_chain: DefaultChainAuth | None = Field(
        default=None, description="The default credential chain; set to {}."
    )

    @model_validator(mode="after")
    def _one_method(self) -> AccountAuth:
        if _count_set(self.client_secret, self.workload_identity, self.default_chain) != 1:
            raise ValueError("set exactly one of clientSecret, workloadIdentity or defaultChain")
        return self


class SelectorOperator(StrEnum):
    """Operators of a label selector requirement."""

    IN = "In"
    NOT_IN = "NotIn"
    EXISTS = "Exists"
    DOES_NOT_EXIST = "DoesNotExist"


class LabelSelectorRequirement(ApiModel):
    """One requirement of a label selector, as in metav1.LabelSelectorRequirement."""

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                "(self.operator in ['In', 'NotIn']) == (has(self.values) && size(self.values) > 0)",
                _VALUES_MATCH_OPERATOR,
            )
        )
    )

    key: LabelKey = Field(description="Label key.")
    operator: SelectorOperator = Field(description="In, NotIn, Exists or DoesNotExist.")
    values: list[LabelValue] = Field(
        default_factory=list,
        max_length=64,
        description="Values for In and NotIn; empty for Exists and DoesNotExist.",
    )

    @model_validator(mode="after")
    def _values_match_operator(self) -> LabelSelectorRequirement:
        wants_values = self.operator in (SelectorOperator.IN, SelectorOperator.NOT_IN)
        if wants_values != bool(self.values):
            raise ValueError(_VALUES_MATCH_OPERATOR)
        return self


class LabelSelector(ApiModel):
    """A label selector, as in metav1.LabelSelector. An empty selector matches everything."""

    match_labels: Annotated[dict[str, LabelValue], AfterValidator(_check_label_keys)] = Field(
        default_factory=dict, max_length=64, description="Labels that must all be present."
    )
    match_expressions: list[LabelSelectorRequirement] = Field(
        default_factory=list, max_length=64, description="Requirements that must all hold."
    )


class AllowedNamespaces(ApiModel):
    """Namespaces whose pools may use the account: listed by name, or matched by labels."""

    names: list[K8sName] = Field(
        default_factory=list,
        max_length=256,
        json_schema_extra={"x-kubernetes-list-type": "set"},
        description="Namespaces admitted by name.",
    )
    selector: LabelSelector | None = Field(
        default=None,
        description="Namespaces admitted by their labels; {} admits every namespace.",
    )


class CaBundle(ApiModel):
    """PEM certificates to trust for the endpoints: inline, or from a ConfigMap or Secret."""

    model_config = ConfigDict(json_schema_extra=_exactly_one("pem", "configMapRef", "secretRef"))

    pem: str | None = Field(
        default=None,
        max_length=262144,
        pattern=r"^\s*-----BEGIN CERTIFICATE-----",
        description="PEM-encoded certificates.",
    )
    config_map_ref: NamespacedKeyReference | None = Field(
        default=None, description="A ConfigMap key holding PEM certificates."
    )
    secret_ref: NamespacedKeyReference | None = Field(
        default=None, description="A Secret key holding PEM certificates."
    )

    @model_validator(mode="after")
    def _one_source(self) -> CaBundle:
        if _count_set(self.pem, self.config_map_ref, self.secret_ref) != 1:
            raise ValueError("set exactly one of pem, configMapRef or secretRef")
        return self


class Endpoints(ApiModel):
    """Endpoints other than Azure's public cloud: sovereign clouds, or the local emulator.

    Hosts other than those of the public, China and US Government clouds, and any CA bundle,
    are used only when the operator was started with `--allow-custom-endpoints`.
    """

    resource_manager: str | None = Field(
        default=None,
        max_length=2048,
        pattern=HTTPS_URL_PATTERN,
        description="Azure Resource Manager URL; https://management.azure.com when omitted. "
        "A host outside the public, China and US Government clouds needs the operator's "
        "--allow-custom-endpoints.",
    )
    authority_host: str | None = Field(
        default=None,
        max_length=2048,
        pattern=HTTPS_URL_PATTERN,
        description="Entra ID authority URL; https://login.microsoftonline.com when omitted. "
        "A host outside the public, China and US Government clouds needs the operator's "
        "--allow-custom-endpoints.",
    )
    ca_bundle: CaBundle | None = Field(
        default=None,
        description="Certificates to trust in addition to the system ones; needs the "
        "operator's --allow-custom-endpoints.",
    )


class AzureAccountSpec(ApiModel):
    """Desired state of an AzureAccount."""

    subscription_id: str = Field(
        pattern=UUID_PATTERN,
        json_schema_extra=validations(
            cel(
                "self == oldSelf",
                "subscriptionId is immutable: the pools of this account have their VMs in "
                "this subscription; for another subscription, create another AzureAccount "
                "and new pools that name it",
            )
        ),
        description="Azure subscription ID. Immutable: pools record it and stall with "
        "AccountChanged when an account of the same name names another one.",
    )
    tenant_id: str = Field(
        pattern=UUID_PATTERN,
        description="Entra ID tenant ID. May change: a subscription can move to another "
        "tenant and keeps its VMs.",
    )
    auth: AccountAuth = Field(description="How to authenticate: exactly one method.")
    allowed_namespaces: AllowedNamespaces = nested(
        AllowedNamespaces,
        "Namespaces whose pools may use this account; none when empty. A pool in another "
        "namespace is Stalled with AccessDenied.",
    )
    allowed_resource_groups: list[ResourceGroupOrAny] = Field(
        min_length=1,
        max_length=256,
        json_schema_extra={"x-kubernetes-list-type": "set"},
        description="Resource groups pools may use (case-insensitive); `*` admits every one.",
    )
    endpoints: Endpoints | None = Field(
        default=None, description="Endpoints other than Azure's public cloud."
    )


class AzureAccountStatus(ApiModel):
    """Observed state of an AzureAccount."""

    observed_generation: int | None = Field(
        default=None, ge=0, description="The metadata.generation this status reflects."
    )
    conditions: list[Condition] = Field(
        default_factory=list,
        max_length=MAX_CONDITIONS,
        json_schema_extra=CONDITIONS_SCHEMA_EXTRA,
        description="Ready: True when vmroll authenticated and can reach the subscription.",
    )


class AzureAccount(ApiModel):
    """A whole AzureAccount object, as read from the API server."""

    api_version: Literal["vmroll.io/v1alpha1"] = Field(
        default=API_VERSION, description="API version."
    )
    kind: Literal["AzureAccount"] = Field(default=KIND, description="Kind.")
    metadata: ObjectMeta = Field(description="Standard object metadata.")
    spec: AzureAccountSpec = Field(description="Desired state.")
    status: AzureAccountStatus | None = Field(default=None, description="Observed state.")
