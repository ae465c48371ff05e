"""Marketplace (platform) images as Microsoft.Compute serves them per region.

`.../locations/{location}/publishers/{publisher}/artifacttypes/vmimage/offers/{offer}/skus/{sku}
/versions/{version}`: every level lists only what is offered in that region, answers a plain JSON
array of `{name, location, id}`, and answers 404 `Artifact: VMImage was not found.` for what the
region does not offer. The versions list honours `$orderby=name desc` (numeric per component)
and `$top`, which is how the operator and the Azure CLI resolve `latest`; `$expand=properties`
returns full images (the SDK's `list_with_properties`). Deprecated versions answer GET (with
their imageDeprecationStatus) but are not listed, since no new VM may use them.
"""

from __future__ import annotations

from aiohttp import web

from vmroll.emulator.arm_request import COMPUTE, JSON, query, respond
from vmroll.emulator.errors import ArmError
from vmroll.emulator.images.entries import MarketplaceImage, MarketplaceVersion
from vmroll.emulator.images.regions import normalize_location
from vmroll.emulator.images.state import ImageState
from vmroll.emulator.images.versions import parse_version, parse_version_query

_LOCATION = COMPUTE + "/locations/{location}"
_PUBLISHERS = _LOCATION + "/publishers"
_OFFERS = _PUBLISHERS + "/{publisher}/artifacttypes/vmimage/offers"
_SKUS = _OFFERS + "/{offer}/skus"
_VERSIONS = _SKUS + "/{sku}/versions"


def artifact_not_found() -> ArmError:
    return ArmError(404, "NotFound", "Artifact: VMImage was not found.")


def offered_images(state: ImageState, location: str) -> list[tuple[MarketplaceImage, list[str]]]:
    """Each sku with at least one version offered in `location`, and those versions."""
    found = []
    for image in state.catalog.marketplace:
        names = [v.version for v in image.versions if location in v.locations]
        if names:
            found.append((image, names))
    return found


def _id_prefix(subscription: str, location: str) -> str:
    # ARM answers these ids capitalized, unlike the lower-case request path.
    return f"/Subscriptions/{subscription}/Providers/Microsoft.Compute/Locations/{location}"


def version_id(subscription: str, location: str, image: MarketplaceImage, version: str) -> str:
    return (
        f"{_id_prefix(subscription, location)}/Publishers/{image.publisher}/ArtifactTypes/VMImage"
        f"/Offers/{image.offer}/Skus/{image.sku}/Versions/{version}"
    )


def image_body(
    subscription: str, location: str, image: MarketplaceImage, version: MarketplaceVersion
) -> JSON:
    """A VirtualMachineImage: the version with its OS, generation, plan and deprecation state."""
    deprecation: JSON = {"imageState": version.deprecation.image_state}
    if version.deprecation.scheduled_deprecation_time is not None:
        deprecation["scheduledDeprecationTime"] = (
            version.deprecation.scheduled_deprecation_time.isoformat()
        )
    if version.deprecation.alternative_option is not None:
        deprecation["alternativeOption"] = version.deprecation.alternative_option.model_dump()
    properties: JSON = {
        "hyperVGeneration": image.hyper_v_generation,
        "architecture": image.architecture,
        "replicaType": "Unmanaged",
        "disallowed": {"vmDiskType": "Unmanaged"},
        "automaticOSUpgradeProperties": {"automaticOSUpgradeSupported": False},
        "imageDeprecationStatus": deprecation,
        "features": [
            {"name": "SecurityType", "value": "TrustedLaunchSupported"},
            {"name": "IsAcceleratedNetworkSupported", "value": "True"},
            {"name": "DiskControllerTypes", "value": "SCSI, NVMe"},
        ],
        "osDiskImage": {"operatingSystem": image.os_type, "sizeInGb": version.os_disk_size_gb},
        "dataDiskImages": [],
    }
    if image.plan is not None:
        properties["plan"] = image.plan.model_dump()
    return {
        "properties": properties,
        "location": location,
        "name": version.version,
        "id": version_id(subscription, location, image, version.version),
    }


def _deprecated(image: MarketplaceImage, name: str) -> bool:
    version = image.version(name)
    return version is not None and version.deprecation.image_state == "Deprecated"


class MarketplaceRoutes:
    """VirtualMachineImages_* operations over the current catalog."""

    def __init__(self, state: ImageState) -> None:
        self._state = state

    def register(self, router: web.UrlDispatcher) -> None:
        for path, handler, operation in [
            (_PUBLISHERS, self.list_publishers, "VirtualMachineImages_ListPublishers"),
            (_OFFERS, self.list_offers, "VirtualMachineImages_ListOffers"),
            (_SKUS, self.list_skus, "VirtualMachineImages_ListSkus"),
            (_VERSIONS, self.list_versions, "VirtualMachineImages_List"),
            (_VERSIONS + "/{version}", self.get_version, "VirtualMachineImages_Get"),
        ]:
            router.add_get(path, handler, name=operation)

    def _offered(self, request: web.Request) -> list[tuple[MarketplaceImage, list[str]]]:
        """What the request's location offers, narrowed by the path's publisher/offer/sku."""
        info = request.match_info
        location = normalize_location(info["location"])
        offered = [
            (image, names)
            for image, names in offered_images(self._state, location)
            if all(
                getattr(image, field).lower() == info[field].lower()
                for field in ("publisher", "offer", "sku")
                if field in info
            )
        ]
        if not offered and "publisher" in info:
            raise artifact_not_found()
        return offered

    def _resource(self, request: web.Request, name: str, path: str) -> JSON:
        location = normalize_location(request.match_info["location"])
        prefix = _id_prefix(request.match_info["subscription"], location)
        return {"name": name, "location": location, "id": f"{prefix}{path}"}

    async def list_publishers(self, request: web.Request) -> web.Response:
        names = sorted({image.publisher for image, _ in self._offered(request)}, key=str.lower)
        return respond([self._resource(request, n, f"/Publishers/{n}") for n in names])

    async def list_offers(self, request: web.Request) -> web.Response:
        offered = self._offered(request)
        publisher = offered[0][0].publisher
        names = sorted({image.offer for image, _ in offered}, key=str.lower)
        path = f"/Publishers/{publisher}/ArtifactTypes/VMImage/Offers/"
        return respond([self._resource(request, n, path + n) for n in names])

    async def list_skus(self, request: web.Request) -> web.Response:
        offered = self._offered(request)
        first = offered[0][0]
        path = f"/Publishers/{first.publisher}/ArtifactTypes/VMImage/Offers/{first.offer}/Skus/"
        names = sorted({image.sku for image, _ in offered}, key=str.lower)
        return respond([self._resource(request, n, path + n) for n in names])

    async def list_versions(self, request: web.Request) -> web.Response:
        version_query = parse_version_query(query(request, "$orderby"), query(request, "$top"))
        [(image, names)] = self._offered(request)
        subscription = request.match_info["subscription"]
        location = normalize_location(request.match_info["location"])
        # Deprecated versions are gone for new deployments, so they are not listed either:
        # `$top=1&$orderby=name desc` then names what a VM asking for `latest` gets.
        deployable = [n for n in names if not _deprecated(image, n)]
        selected = version_query.apply(deployable)
        expand = (query(request, "$expand") or "").lower()
        if expand == "properties":
            bodies = [
                image_body(subscription, location, image, version)
                for name in selected
                if (version := image.version(name)) is not None
            ]
            return respond(bodies)
        return respond(
            [
                {
                    "name": name,
                    "location": location,
                    "id": version_id(subscription, location, image, name),
                }
                for name in selected
            ]
        )

    async def get_version(self, request: web.Request) -> web.Response:
        requested = request.match_info["version"]
        if parse_version(requested) is None:
            raise ArmError(
                400,
                "InvalidParameter",
                "The value of parameter version is invalid.",
                target="version",
            )
        [(image, names)] = self._offered(request)
        version = image.version(requested)
        if version is None or requested not in names:
            raise artifact_not_found()
        location = normalize_location(request.match_info["location"])
        return respond(image_body(request.match_info["subscription"], location, image, version))
