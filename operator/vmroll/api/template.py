"""The shape of every VM in a pool: size, zones, network, login, OS disk, cloud-init and tags.

Most of these cannot change on an existing VM; `vmroll.plan.revision` decides which of them
force a VM to be replaced. Azure's own naming and tagging rules are checked here so that a
spec Azure would refuse is refused by the API server first.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, ConfigDict, Field, model_validator

from vmroll.api.base import ApiModel, cel, nested, validations
from vmroll.api.image import ARM_NAME_SEGMENT, ARM_PREFIX
from vmroll.api.types import KeyReference

VM_SIZE_PATTERN = r"^(Standard|Basic)_[A-Za-z0-9][-A-Za-z0-9_]*$"
SUBNET_ID_PATTERN = (
    ARM_PREFIX
    + rf"Microsoft\.Network/virtualNetworks/{ARM_NAME_SEGMENT}/subnets/{ARM_NAME_SEGMENT}$"
)
ADMIN_USERNAME_PATTERN = r"^[a-z_][a-z0-9_-]*$"
SSH_KEY_PATTERN = r"^(ssh-rsa|ssh-ed25519|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/=]+( .*)?$"

RESERVED_TAG_PREFIX = "vmroll.io_"
FORBIDDEN_TAG_CHARACTERS = frozenset("<>%&\\?/")
MAX_USER_TAGS = 45
"""Azure allows 50 tags per VM; vmroll keeps five for its ownership tags."""
MAX_USER_TAGS_RESTARTED = MAX_USER_TAGS - 1
"""A restarted pool's VMs carry a sixth tag of vmroll's, the restart stamp."""

# Azure refuses these as a VM admin user name.
RESERVED_USERNAMES = (
    "administrator", "admin", "user", "user1", "test", "user2", "test1", "user3", "admin1",
    "1", "123", "a", "actuser", "adm", "admin2", "aspnet", "backup", "console", "david",
    "guest", "john", "owner", "root", "server", "sql", "support", "support_388945a0", "sys",
    "test2", "test3", "user4", "user5",
)  # fmt: skip


class StorageAccountType(StrEnum):
    """Managed disk SKUs an OS disk can use."""

    STANDARD_LRS = "Standard_LRS"
    STANDARD_SSD_LRS = "StandardSSD_LRS"
    STANDARD_SSD_ZRS = "StandardSSD_ZRS"
    PREMIUM_LRS = "Premium_LRS"
    PREMIUM_ZRS = "Premium_ZRS"


class SshPublicKey(ApiModel):
    """One SSH public key for the admin user: inline, or read from a Secret key."""

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                "has(self.keyData) != has(self.secretRef)",
                "set exactly one of keyData or secretRef",
            )
        )
    )

    key_data: str | None = Field(
        default=None,
        max_length=8192,
        pattern=SSH_KEY_PATTERN,
        description="The public key in OpenSSH format, such as `ssh-ed25519 AAAA... me@host`.",
    )
    secret_ref: KeyReference | None = Field(
        default=None,
        description="A key of a Secret in the pool's namespace holding the public key.",
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> SshPublicKey:
        if (self.key_data is None) == (self.secret_ref is None):
            raise ValueError("set exactly one of keyData or secretRef")
        return self


class OsDisk(ApiModel):
    """The VM's OS disk."""

    ephemeral: bool = Field(
        default=False,
        description="Place the OS disk on the VM's local storage: faster reimage, no persistence.",
    )
    size_gb: int | None = Field(
        default=None,
        alias="sizeGB",
        ge=30,
        le=4095,
        description="Size in GiB; the image's own size when omitted.",
    )
    storage_account_type: StorageAccountType = Field(
        default=StorageAccountType.PREMIUM_LRS,
        description="Managed disk SKU of the OS disk.",
    )


class CustomData(ApiModel):
    """Cloud-init user data, read from a key of a Secret or a ConfigMap."""

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                "has(self.secretRef) != has(self.configMapRef)",
                "set exactly one of secretRef or configMapRef",
            )
        )
    )

    secret_ref: KeyReference | None = Field(
        default=None, description="A key of a Secret in the pool's namespace."
    )
    config_map_ref: KeyReference | None = Field(
        default=None, description="A key of a ConfigMap in the pool's namespace."
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> CustomData:
        if (self.secret_ref is None) == (self.config_map_ref is None):
            raise ValueError("set exactly one of secretRef or configMapRef")
        return self


def check_user_tags(tags: Mapping[str, str]) -> Mapping[str, str]:
    """Azure's tag-name rules, plus vmroll's reserved prefix."""
    for name in tags:
        if not 1 <= len(name) <= 512:
            raise ValueError(f"tag name {name!r} must be 1 to 512 characters")
        if FORBIDDEN_TAG_CHARACTERS & set(name):
            raise ValueError(f"tag name {name!r} must not contain any of < > % & \\ ? /")
        if name.startswith(RESERVED_TAG_PREFIX):
            raise ValueError(
                f"tag name {name!r} starts with {RESERVED_TAG_PREFIX}, reserved for vmroll"
            )
    return tags


UserTags = Annotated[
    dict[str, Annotated[str, Field(max_length=256)]],
    AfterValidator(check_user_tags),
    Field(max_length=MAX_USER_TAGS),
]


class VmTemplate(ApiModel):
    """The shape of every VM in the pool."""

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                f"!has(self.restartedAt) || !has(self.tags) "
                f"|| size(self.tags) <= {MAX_USER_TAGS_RESTARTED}",
                f"with restartedAt set, at most {MAX_USER_TAGS_RESTARTED} tags: the restart "
                "stamp takes one of the VM's 50",
            )
        )
    )

    vm_size: str = Field(
        max_length=64,
        pattern=VM_SIZE_PATTERN,
        description="VM size, such as Standard_D2s_v5.",
    )
    zones: list[Literal["1", "2", "3"]] = Field(
        default_factory=list,
        max_length=3,
        json_schema_extra={"x-kubernetes-list-type": "set"},
        description="Availability zones to spread the VMs over; no zone when empty.",
    )
    subnet_id: str = Field(
        max_length=1024,
        pattern=SUBNET_ID_PATTERN,
        description="Resource ID of the subnet the VMs' network interfaces join.",
    )
    admin_username: str = Field(
        default="azureuser",
        min_length=1,
        max_length=64,
        pattern=ADMIN_USERNAME_PATTERN,
        json_schema_extra=validations(
            cel(f"!(self in {list(RESERVED_USERNAMES)})", "this user name is reserved by Azure")
        ),
        description="Name of the admin user created on each VM.",
    )
    ssh_public_keys: list[SshPublicKey] = Field(
        min_length=1,
        max_length=10,
        description="SSH public keys of the admin user; password login is disabled.",
    )
    os_disk: OsDisk = nested(OsDisk, "The OS disk of each VM.")
    custom_data: CustomData | None = Field(
        default=None, description="Cloud-init user data from a Secret or a ConfigMap."
    )
    tags: UserTags = Field(
        default_factory=dict,
        json_schema_extra=validations(
            cel(
                f"self.all(k, !k.startsWith('{RESERVED_TAG_PREFIX}'))",
                f"tag names starting with {RESERVED_TAG_PREFIX} are reserved for vmroll",
            ),
            cel(
                "self.all(k, size(k) >= 1 && size(k) <= 512)",
                "tag names must be 1 to 512 characters",
            ),
            cel(
                "self.all(k, !k.matches('[<>%&\\\\\\\\?/]'))",
                "tag names must not contain any of < > % & \\ ? /",
            ),
        ),
        description=(
            f"Azure tags added to each VM (at most {MAX_USER_TAGS}). vmroll adds its own "
            f"ownership tags, whose names start with {RESERVED_TAG_PREFIX}."
        ),
    )
    restarted_at: datetime | None = Field(
        default=None,
        description=(
            "A restart stamp, as `kubectl rollout restart` writes into a Deployment's pod "
            "template: changing it rolls every VM again at the same image version, as a new "
            "revision, through the pool's strategy (RollingReimage reimages, RollingReplace "
            "replaces, OnDelete waits for VMs to be deleted). `kubectl vmroll restart` sets it "
            "to the current time. It lives in the template, so it is declarative: it is in "
            "Git when committed there, and a GitOps tool that removes it starts another restart."
        ),
    )

    @model_validator(mode="after")
    def _username_not_reserved(self) -> VmTemplate:
        if self.admin_username in RESERVED_USERNAMES:
            raise ValueError(f"adminUsername {self.admin_username!r} is reserved by Azure")
        return self

    @model_validator(mode="after")
    def _room_for_the_restart_tag(self) -> VmTemplate:
        if self.restarted_at is not None and len(self.tags) > MAX_USER_TAGS_RESTARTED:
            raise ValueError(
                f"with restartedAt set, at most {MAX_USER_TAGS_RESTARTED} tags: the restart "
                "stamp takes one of the VM's 50"
            )
        return self
