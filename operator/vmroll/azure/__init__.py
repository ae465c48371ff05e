"""The Azure boundary: credentials, SDK clients, and one module per Azure concern.

The rest of the operator builds gateways only through `AzureGateways` (the one factory, used by
the operator's state and by the integration tests alike) and reaches Azure only through the
`ComputeGateway` protocol; what it passes and gets back (settings, image references, VM specs,
operation records) and the three-kind error hierarchy are re-exported here. The reconcile
package is held to that by an import-linter contract: no SDK, no clients, no gateway internals.
"""

from vmroll.azure.errors import (
    AzureAccessError,
    AzureGatewayError,
    TerminalAzureError,
    TransientAzureError,
)
from vmroll.azure.gateway import AzureGateways, NotOwnedError
from vmroll.azure.images import (
    AzureImageKind,
    GalleryRef,
    ImageRef,
    ManagedImageRef,
    MarketplacePlan,
    MarketplaceRef,
    ResolvedImage,
)
from vmroll.azure.lro import LroKind, OperationLost, OperationRecord, OperationState
from vmroll.azure.protocol import ComputeGateway
from vmroll.azure.settings import (
    AccountConnection,
    AzureEndpoint,
    CaBundleFile,
    CaBundlePem,
    DefaultCredentialChain,
    ServicePrincipalSecret,
    WorkloadIdentityToken,
)
from vmroll.azure.vm_body import OsDiskSpec, VmSpec
from vmroll.azure.vms import AlreadyCreated, NameTaken, PoolListing, PoolVm, VmRuntime

__all__ = [
    "AccountConnection",
    "AlreadyCreated",
    "AzureAccessError",
    "AzureEndpoint",
    "AzureGatewayError",
    "AzureGateways",
    "AzureImageKind",
    "CaBundleFile",
    "CaBundlePem",
    "ComputeGateway",
    "DefaultCredentialChain",
    "GalleryRef",
    "ImageRef",
    "LroKind",
    "ManagedImageRef",
    "MarketplacePlan",
    "MarketplaceRef",
    "NameTaken",
    "NotOwnedError",
    "OperationLost",
    "OperationRecord",
    "OperationState",
    "OsDiskSpec",
    "PoolListing",
    "PoolVm",
    "ResolvedImage",
    "ServicePrincipalSecret",
    "TerminalAzureError",
    "TransientAzureError",
    "VmRuntime",
    "VmSpec",
    "WorkloadIdentityToken",
]
