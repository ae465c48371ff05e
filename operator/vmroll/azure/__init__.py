"""The Azure boundary: credentials, SDK clients, and one module per Azure concern.

Handlers use only what is re-exported here: the `ComputeGateway` protocol and its factory, the
data that crosses the boundary, and the three-kind error hierarchy.
"""

from vmroll.azure.errors import (
    AzureAccessError,
    AzureGatewayError,
    TerminalAzureError,
    TransientAzureError,
)
from vmroll.azure.gateway import AzureGateways, NotOwnedError
from vmroll.azure.images import (
    GalleryImage,
    ImageRef,
    ImageSourceKind,
    ManagedImage,
    MarketplaceImage,
    PurchasePlan,
    ResolvedImage,
)
from vmroll.azure.lro import LroKind, OperationLost, OperationRecord, OperationState
from vmroll.azure.protocol import ComputeGateway, GatewayFactory
from vmroll.azure.settings import (
    AccountConnection,
    AzureEndpoint,
    CaBundleFile,
    CaBundlePem,
    ClientSecretAuth,
    DefaultChainAuth,
    WorkloadIdentityAuth,
)
from vmroll.azure.vm_body import OsDiskSpec, VmSpec
from vmroll.azure.vms import PoolListing, PoolVm, VmRuntime

__all__ = [
    "AccountConnection",
    "AzureAccessError",
    "AzureEndpoint",
    "AzureGatewayError",
    "AzureGateways",
    "CaBundleFile",
    "CaBundlePem",
    "ClientSecretAuth",
    "ComputeGateway",
    "DefaultChainAuth",
    "GalleryImage",
    "GatewayFactory",
    "ImageRef",
    "ImageSourceKind",
    "LroKind",
    "ManagedImage",
    "MarketplaceImage",
    "NotOwnedError",
    "OperationLost",
    "OperationRecord",
    "OperationState",
    "OsDiskSpec",
    "PoolListing",
    "PoolVm",
    "PurchasePlan",
    "ResolvedImage",
    "TerminalAzureError",
    "TransientAzureError",
    "VmRuntime",
    "VmSpec",
    "WorkloadIdentityAuth",
]
