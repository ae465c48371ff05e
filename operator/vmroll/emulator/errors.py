"""ARM error bodies: one exception type that every emulated operation raises to answer an error.

ARM answers errors as `{"error": {"code", "message", "target"?, "details"?}}` (CloudError); the
server turns an `ArmError` into exactly that body with its HTTP status.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


class ArmError(Exception):
    """An error the emulator answers in ARM's CloudError shape."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        target: str | None = None,
        details: Sequence[Mapping[str, Any]] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.target = target
        self.details = list(details)
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.target is not None:
            error["target"] = self.target
        if self.details:
            error["details"] = [dict(d) for d in self.details]
        return {"error": error}
