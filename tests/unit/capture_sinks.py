"""What a capture pass writes, recorded: its status patches and its events."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class Sinks:
    def __init__(self) -> None:
        self.patches: list[dict[str, Any]] = []
        self.events: list[tuple[str, str, str]] = []

    async def patch_status(self, patch: Mapping[str, Any]) -> None:
        self.patches.append(dict(patch))

    def event(self, type_: str, reason: str, message: str) -> None:
        self.events.append((type_, reason, message))
