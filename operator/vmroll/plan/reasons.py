"""Every condition reason vmroll writes, in one place, each with what it means.

Reasons are the programmatic half of a condition: alerts, dashboards and `kubectl wait` match
on them, so they are CamelCase constants that never change spelling. `DESCRIPTIONS` documents
each one; a unit test fails when a reason lacks a description.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType


class Reason(StrEnum):
    """Reasons of vmroll's conditions (Ready, Reconciling, Stalled and domain conditions)."""

    # Stalled: a human must change something.
    ACCESS_DENIED = "AccessDenied"
    SOURCE_NOT_FOUND = "SourceNotFound"
    SOURCE_INCOMPATIBLE = "SourceIncompatible"
    DEFINITION_NOT_FOUND = "DefinitionNotFound"
    VERSION_EXISTS = "VersionExists"
    REPLICATION_FAILED = "ReplicationFailed"
    BUILDER_TIMED_OUT = "BuilderTimedOut"
    BUILDER_FAILED = "BuilderFailed"
    BUILDER_NOT_OWNED = "BuilderNotOwned"
    ACCOUNT_NOT_FOUND = "AccountNotFound"
    ACCOUNT_CHANGED = "AccountChanged"
    CUSTOM_ENDPOINTS_NOT_ALLOWED = "CustomEndpointsNotAllowed"
    REFERENCE_NAMESPACE_NOT_ALLOWED = "ReferenceNamespaceNotAllowed"
    CREDENTIALS_NOT_FOUND = "CredentialsNotFound"
    IMAGE_NOT_AVAILABLE = "ImageNotAvailable"
    TERMS_NOT_ACCEPTED = "TermsNotAccepted"
    QUOTA_EXCEEDED = "QuotaExceeded"
    SKU_NOT_AVAILABLE = "SkuNotAvailable"
    INVALID_PARAMETER = "InvalidParameter"
    INVALID_SPEC = "InvalidSpec"
    INVALID_SECRET = "InvalidSecret"
    AZURE_REQUEST_REJECTED = "AzureRequestRejected"
    PROGRESS_DEADLINE_EXCEEDED = "ProgressDeadlineExceeded"
    ROLLED_BACK = "RolledBack"
    NO_COMPLIANT_VERSION = "NoCompliantVersion"
    # Reconciling: vmroll is working towards the spec.
    RECONCILING = "Reconciling"
    BUILDING = "Building"
    DELETING_BUILDER = "DeletingBuilder"
    GENERALIZING = "Generalizing"
    CAPTURING = "Capturing"
    REPLICATING = "Replicating"
    RESOLVING_IMAGE = "ResolvingImage"
    CREATING = "Creating"
    SCALING = "Scaling"
    ROLLING_OUT = "RollingOut"
    ROLLING_BACK = "RollingBack"
    DELETING = "Deleting"
    WAITING_FOR_HEALTHY = "WaitingForHealthy"
    RETRYING = "Retrying"
    UNEXPECTED_ERROR = "UnexpectedError"
    # Progress held back on purpose.
    PAUSED = "Paused"
    WAITING_FOR_MAINTENANCE_WINDOW = "WaitingForMaintenanceWindow"
    AWAITING_DELETION = "AwaitingDeletion"
    # Ready and domain conditions when all is well.
    READY = "Ready"
    CAPTURED = "Captured"
    ALL_REPLICAS_READY = "AllReplicasReady"
    IMAGE_RESOLVED = "ImageResolved"
    RETENTION_APPLIED = "RetentionApplied"
    RETENTION_FAILED = "RetentionFailed"
    POLICY_COMPLIANT = "Compliant"
    POLICY_REMEDIATED = "Remediated"
    LATEST_DENIED = "LatestVersionDenied"
    AUTHENTICATED = "Authenticated"
    AUTHENTICATION_FAILED = "AuthenticationFailed"


DESCRIPTIONS: Mapping[Reason, str] = MappingProxyType(
    {
        Reason.ACCESS_DENIED: "The AzureAccount does not admit the pool's namespace or resource "
        "group, or Azure refused the credentials' access.",
        Reason.SOURCE_NOT_FOUND: "An ImageCapture's source VM does not exist.",
        Reason.SOURCE_INCOMPATIBLE: "Azure refused to capture the source VM into the image "
        "definition: its OS type, OS state (generalized or not), Hyper-V generation or "
        "architecture differs from the definition's.",
        Reason.DEFINITION_NOT_FOUND: "An ImageCapture's spec.target.imageId names a gallery "
        "image definition that does not exist.",
        Reason.VERSION_EXISTS: "The gallery image version an ImageCapture would create already "
        "exists, captured from another source.",
        Reason.REPLICATION_FAILED: "A gallery image version failed to replicate to a region.",
        Reason.BUILDER_TIMED_OUT: "An ImageCapture's builder VM did not report its completion "
        "signal within spec.source.builder.completion.timeoutSeconds; it is kept for inspection.",
        Reason.BUILDER_FAILED: "An ImageCapture's builder VM failed to provision.",
        Reason.BUILDER_NOT_OWNED: "A VM of the builder's name exists that is not the "
        "ImageCapture's (its capture-UID tag differs); vmroll does not touch it.",
        Reason.BUILDING: "An ImageCapture creates its builder VM and waits for its completion "
        "signal.",
        Reason.DELETING_BUILDER: "An ImageCapture deletes its builder VM (disposal: Delete).",
        Reason.GENERALIZING: "An ImageCapture deallocates or generalizes its source VM.",
        Reason.CAPTURING: "An ImageCapture creates its gallery image version from the VM.",
        Reason.REPLICATING: "An ImageCapture's version replicates to its target regions.",
        Reason.CAPTURED: "An ImageCapture's version is available in every target region.",
        Reason.ACCOUNT_NOT_FOUND: "spec.accountRef names an AzureAccount that does not exist.",
        Reason.ACCOUNT_CHANGED: "The pool's AzureAccount now names another subscription than "
        "the one its VMs live in (status.subscriptionId): restore subscriptionId on the "
        "account, or annotate the pool vmroll.io/accept-subscription=<new ID> to start afresh "
        "there and leave the old VMs unmanaged.",
        Reason.CUSTOM_ENDPOINTS_NOT_ALLOWED: "The AzureAccount sets an endpoint outside the "
        "known Azure clouds, or a CA bundle, and the operator was not started with "
        "--allow-custom-endpoints.",
        Reason.REFERENCE_NAMESPACE_NOT_ALLOWED: "The AzureAccount names a Secret or ConfigMap "
        "outside the operator's own namespace (--cluster-resource-namespace).",
        Reason.CREDENTIALS_NOT_FOUND: "The Secret or key the AzureAccount's auth points to "
        "does not exist.",
        Reason.IMAGE_NOT_AVAILABLE: "The image or version does not exist, or is not available "
        "in the pool's location.",
        Reason.TERMS_NOT_ACCEPTED: "The image is paid and its marketplace terms are not "
        "accepted; set spec.image.acceptTerms.",
        Reason.QUOTA_EXCEEDED: "The subscription's vCPU or resource quota does not allow the VMs.",
        Reason.SKU_NOT_AVAILABLE: "The VM size is not offered in the location or zone.",
        Reason.INVALID_PARAMETER: "Azure refused a value of the spec as invalid.",
        Reason.INVALID_SPEC: "The spec fails a rule the CRD schema cannot express, or names "
        "a Secret or ConfigMap key that does not exist.",
        Reason.INVALID_SECRET: "A Secret the template reads (customData, an SSH key) holds a "
        "value vmroll cannot use, such as binary data where text is expected.",
        Reason.AZURE_REQUEST_REJECTED: "Azure refused a request for a reason vmroll does not "
        "classify; the message carries Azure's code.",
        Reason.PROGRESS_DEADLINE_EXCEEDED: "The rollout made no progress within "
        "strategy.progressDeadlineSeconds.",
        Reason.ROLLED_BACK: "The rollout failed and the pool went back to its previous revision.",
        Reason.RECONCILING: "vmroll is working towards the spec.",
        Reason.RESOLVING_IMAGE: "vmroll is resolving the image version to run.",
        Reason.CREATING: "VMs are being created for a new pool.",
        Reason.SCALING: "VMs are being added or removed to match spec.replicas.",
        Reason.ROLLING_OUT: "VMs are moving to the target revision.",
        Reason.ROLLING_BACK: "VMs are moving back to the previous revision after a failure.",
        Reason.DELETING: "The pool is being deleted and its VMs with it.",
        Reason.WAITING_FOR_HEALTHY: "VMs exist on the target revision but are not yet available.",
        Reason.RETRYING: "A transient Azure failure; vmroll retries with capped exponential "
        "backoff, and the message gives the retry count and the delay.",
        Reason.UNEXPECTED_ERROR: "A failure that is not Azure's (a Kubernetes API error, a bug); "
        "vmroll retries with backoff, and the message gives the error's type and first line.",
        Reason.PAUSED: "strategy.paused is set: no new rollout step starts.",
        Reason.WAITING_FOR_MAINTENANCE_WINDOW: "A rollout is due and waits for a maintenance "
        "window to open.",
        Reason.AWAITING_DELETION: "OnDelete strategy: outdated VMs change only once someone "
        "deletes them.",
        Reason.READY: "The object is ready.",
        Reason.ALL_REPLICAS_READY: "Every VM runs the target revision and is available.",
        Reason.IMAGE_RESOLVED: "The requested image resolved to an exact version.",
        Reason.RETENTION_APPLIED: "An ImageCapture's spec.retention holds: the target "
        "definition keeps at most keepNewest versions beyond those in use, its own or not "
        "vmroll's (RetentionApplied True).",
        Reason.RETENTION_FAILED: "An ImageCapture's spec.retention could not list or delete "
        "versions, or read the pools that use them; nothing was deleted that is not sure to be "
        "unused, and vmroll retries (RetentionApplied False).",
        Reason.NO_COMPLIANT_VERSION: "A Remediate ImagePolicy applies (or a Deny one denies "
        "the version `latest` resolves to) and no version of the "
        "image available in the pool's region complies with every policy; no VM is touched "
        "until one is published or the policy changes.",
        Reason.POLICY_REMEDIATED: "The spec's image version breaks a Remediate ImagePolicy; "
        "vmroll runs the newest compliant version instead (PolicyCompliant True).",
        Reason.LATEST_DENIED: "The version `latest` resolves to breaks a Deny ImagePolicy; "
        "the pool targets the newest compliant version instead (PolicyCompliant True).",
        Reason.POLICY_COMPLIANT: "The pool's image complies with every ImagePolicy that applies "
        "to it (PolicyCompliant; when it does not, the reason names the rule broken).",
        Reason.AUTHENTICATED: "vmroll authenticated to the subscription with the account's auth.",
        Reason.AUTHENTICATION_FAILED: "vmroll could not obtain a token with the account's auth.",
    }
)
