"""A small kopf operator for the e2e tests: it answers each Widget's spec in its status.

Run by test_kopf_operator.py as a separate process (`python -m kopf run widget_operator.py
--standalone --namespace NS`), the way vmroll's own operator runs, against the real apiserver.
"""

from __future__ import annotations

from typing import Any

import kopf

GROUP, VERSION, PLURAL = "tests.vmroll.io", "v1", "widgets"


@kopf.on.create(GROUP, VERSION, PLURAL)
@kopf.on.update(GROUP, VERSION, PLURAL)
def echo(body: kopf.Body, spec: kopf.Spec, meta: kopf.Meta, patch: kopf.Patch, **_: Any) -> None:
    patch.status["seenMessage"] = spec["message"]
    patch.status["seenGeneration"] = meta["generation"]
    kopf.info(body, reason="Echoed", message=f"echoed generation {meta['generation']}")


@kopf.on.delete(GROUP, VERSION, PLURAL)
def goodbye(name: str | None, logger: kopf.Logger, **_: Any) -> None:
    logger.info(f"widget {name} deleted")
