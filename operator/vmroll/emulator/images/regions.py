"""Azure region names: the short form ARM paths use and the display form gallery replicas report.

ARM accepts `westeurope` and `West Europe` alike and compares them case- and space-insensitively;
gallery `targetRegions` answer with display names. One place knows both spellings.
"""

from __future__ import annotations

_DISPLAY_NAMES = {
    "australiaeast": "Australia East",
    "brazilsouth": "Brazil South",
    "canadacentral": "Canada Central",
    "centralus": "Central US",
    "eastasia": "East Asia",
    "eastus": "East US",
    "eastus2": "East US 2",
    "francecentral": "France Central",
    "germanywestcentral": "Germany West Central",
    "japaneast": "Japan East",
    "northcentralus": "North Central US",
    "northeurope": "North Europe",
    "southcentralus": "South Central US",
    "southeastasia": "Southeast Asia",
    "swedencentral": "Sweden Central",
    "uksouth": "UK South",
    "westeurope": "West Europe",
    "westus": "West US",
    "westus2": "West US 2",
    "westus3": "West US 3",
}


def normalize_location(name: str) -> str:
    """`West Europe`, `westeurope` and `WestEurope` all name the region `westeurope`."""
    return name.replace(" ", "").lower()


def display_name(location: str) -> str:
    """The display name of a region (`West Europe`), or its short name when unknown."""
    short = normalize_location(location)
    return _DISPLAY_NAMES.get(short, short)
