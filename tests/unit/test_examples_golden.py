"""The golden-image examples fit together: each example pool follows, at `latest` and in one of
its regions, the definition its example capture produces into (and the capture does not hide the
version from `latest`), so the pool rolls onto what the capture makes."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from vmroll.api.capture import ImageCapture
from vmroll.api.pool import VirtualMachinePool

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.parametrize(
    ("capture_file", "pool_file"),
    [
        ("capture-ubuntu.yaml", "pool-golden-latest.yaml"),
        ("local/capture.yaml", "local/pool-golden.yaml"),
    ],
)
def test_the_example_pools_follow_what_the_example_captures_produce(
    capture_file: str, pool_file: str
) -> None:
    capture = ImageCapture.model_validate(yaml.safe_load((EXAMPLES / capture_file).read_text()))
    pool = VirtualMachinePool.model_validate(yaml.safe_load((EXAMPLES / pool_file).read_text()))

    assert pool.spec.image.gallery is not None
    assert pool.spec.image.gallery.image_id == capture.spec.target.image_id
    assert pool.spec.image.gallery.version == "latest"
    assert pool.spec.location in {r.name for r in capture.spec.target.regions}
    assert not capture.spec.target.exclude_from_latest
