"""The README's golden-image walkthrough, run as written against `vmroll dev`.

The shell block under "Walkthrough: marketplace image → configured VM → golden image → pool
rollout" is taken from README.md and run by bash (`-euo pipefail`) from the repository's root,
in the environment `vmroll dev`'s printed `export` lines set up: a pool follows the built-in
gallery definition at `latest`, a marketplace VM configured by cloud-init is captured into it,
and the pool rolls onto the captured version, its RolloutStarted event naming the capture. So
every command and path the README gives works on the local stack.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from dev_session import REPO, running_dev

pytestmark = pytest.mark.e2e

HEADING = "#### Walkthrough: marketplace image → configured VM → golden image → pool rollout"
CAPTURED = "1.3.1"
"""The next patch of the built-in ubuntu-web definition's newest version (1.3.0)."""


def walkthrough() -> str:
    text = (REPO / "README.md").read_text()
    section = text[text.index(HEADING) :]
    start = section.index("```sh\n") + len("```sh\n")
    return section[start : section.index("```\n", start)]


def test_the_readme_walkthrough_captures_a_vm_and_the_following_pool_rolls_onto_it(
    tmp_path: Path,
) -> None:
    script = walkthrough()
    assert "examples/local/capture.yaml" in script
    with running_dev(tmp_path) as dev:
        ran = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            capture_output=True,
            text=True,
            env=dev.env,
            cwd=REPO,
            check=False,
            timeout=900,
        )
        pool = json.loads(
            subprocess.run(
                [*dev.kubectl, "get", "vmpool/web-golden", "-o", "json"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        capture = json.loads(
            subprocess.run(
                [*dev.kubectl, "get", "imgcap/golden", "-o", "json"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )

    assert ran.returncode == 0, (ran.stdout, ran.stderr, "".join(dev.seen[-40:]))
    assert capture["status"]["version"] == CAPTURED
    assert (
        "/resourceGroups/rg-vmroll/providers/Microsoft.Compute/virtualMachines/configured-"
        in (capture["status"]["sourceVmId"])
    )
    history = pool["status"]["history"]
    assert [(h["imageVersion"], h["outcome"]) for h in history[:2]] == [
        (CAPTURED, "Succeeded"),
        ("1.3.0", "Succeeded"),
    ]
    assert {i["imageVersion"] for i in pool["status"]["instances"]} == {CAPTURED}
    assert len(pool["status"]["instances"]) == 3
    assert "over 1.3.0: a newer image version was published" in ran.stdout
    assert "(captured by ImageCapture default/golden)" in ran.stdout
