"""`kubectl vmroll`'s pure decisions, over the pool objects captured from real runs.

The fixtures are tests/fixtures/status/VirtualMachinePool/*.yaml (`make status-fixtures`): what
`rollout status` decides, what `status` and `history` print, and what `undo` would patch; and
how the flags kubectl plugins share (`-n`, `--context`, `--kubeconfig`) pick the namespace.
"""

from __future__ import annotations

import argparse
import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from vmroll.kubectl import progress, undo, view
from vmroll.kubectl.cli import build_parser, duration
from vmroll.kubectl.cluster import ClusterTarget, Pools
from vmroll.kubectl.progress import Phase

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "status" / "VirtualMachinePool"


def fixture(name: str) -> dict[str, Any]:
    pool: dict[str, Any] = yaml.safe_load((FIXTURES / f"{name}.yaml").read_text())
    return pool


FIRST_STATUS = {"conditions", "observedGeneration", "subscriptionId"}


def new_pool() -> dict[str, Any]:
    """A pool with the first status vmroll writes (reconcile/report.py `starting`), before its
    image is resolved: the captured `creating` pool, which already records its creates, with
    only what that first status holds."""
    pool = fixture("creating")
    pool["status"] = {k: v for k, v in pool["status"].items() if k in FIRST_STATUS}
    return pool


@pytest.mark.parametrize(
    ("name", "phase", "reason", "says"),
    [
        ("ready", Phase.DONE, "Ready", "successfully rolled out: 3 VMs at revision 39632c089c"),
        ("creating", Phase.WAITING, "Progressing", "0 of 2 VMs updated"),
        ("rolling", Phase.WAITING, "Progressing", "0 of 3 VMs updated to revision 87064f340c"),
        ("spec-change-not-observed", Phase.WAITING, "NotObserved", "spec update to be observed"),
        ("paused", Phase.FAILED, "Paused", "kubectl vmroll resume web"),
        ("stalled-rolled-back", Phase.FAILED, "RolledBack", "was rolled back"),
        ("stalled-progress-deadline-exceeded", Phase.FAILED, "ProgressDeadlineExceeded", ""),
        ("stalled-image-not-available", Phase.FAILED, "ImageNotAvailable", ""),
        ("stalled-access-denied", Phase.FAILED, "AccessDenied", ""),
        ("deleting", Phase.FAILED, "Deleting", "is being deleted"),
    ],
)
def test_rollout_verdict(name: str, phase: Phase, reason: str, says: str) -> None:
    verdict = progress.rollout_verdict(fixture(name))
    assert (verdict.phase, verdict.reason) == (phase, reason), verdict
    assert says in verdict.message
    assert verdict.final == (phase != Phase.WAITING)


def test_a_paused_pool_that_finished_is_done() -> None:
    pool = fixture("ready")
    pool["spec"]["strategy"]["paused"] = True
    assert progress.rollout_verdict(pool).phase == Phase.DONE


def test_a_stale_ready_status_is_not_done() -> None:
    """Ready True written for an older generation says nothing about the spec as it is now."""
    pool = fixture("ready")
    pool["metadata"]["generation"] += 1
    assert progress.rollout_verdict(pool).reason == "NotObserved"


def test_status_view_of_a_paused_rollout() -> None:
    pool = fixture("paused")
    prefix = pool["status"]["upNext"][0].rsplit("-", 1)[0]  # the VM names change with each capture
    text = view.render_status(pool)
    lines = text.splitlines()
    assert "Target:      24.04.202610220 at revision 87064f340c" in text
    assert "Current:     3 VMs on 24.04.202609160, 1 VM on 24.04.202610220" in text
    assert "Rollout:     [#######.............] 1/3 VMs updated, RollingReplace, paused" in lines
    assert f"Up next:     {prefix}-0, {prefix}-1, {prefix}-2" in lines
    vm = next(line for line in lines if f"{prefix}-3" in line).split()
    assert vm == [f"{prefix}-3", "1", "24.04.202610220", "87064f340c", "*", "Healthy", "Succeeded"]
    assert any(line.split()[:3] == ["RolloutPaused", "True", "Paused"] for line in lines)
    rollouts = [line.split()[:3] for line in lines]
    assert ["87064f340c", "24.04.202610220", "InProgress"] in rollouts


@pytest.mark.parametrize(
    ("name", "rollout"),
    [
        ("ready", "[####################] 3/3 VMs updated, RollingReplace, complete"),
        ("rolling", "[....................] 0/3 VMs updated, RollingReplace, in progress"),
        ("stalled-rolled-back", "[####################] 1/1 VMs updated, RollingReplace, stalled"),
        ("creating", "[....................] 0/2 VMs updated, RollingReplace, in progress"),
    ],
)
def test_status_view_rollout_line(name: str, rollout: str) -> None:
    assert f"Rollout:     {rollout}" in view.render_status(fixture(name)).splitlines()


def test_status_view_says_when_the_spec_is_not_observed_yet() -> None:
    text = view.render_status(fixture("spec-change-not-observed"))
    assert "generation 2 not yet observed (status is for generation 1)" in text


def test_status_view_of_a_new_pool_has_empty_sections() -> None:
    text = view.render_status(new_pool())
    assert "Target:      not resolved yet" in text
    assert text.count("  none") == 2  # no VMs, no rollouts yet


def test_history_lists_every_entry_newest_first() -> None:
    lines = view.render_history(fixture("stalled-rolled-back")).splitlines()
    assert lines[0].split() == ["REVISION", "VERSION", "OUTCOME", "STARTED", "FINISHED", "REASON"]
    assert all(line.split()[-1] == "-" for line in lines[1:])
    assert [line.split()[:3] for line in lines[1:]] == [
        ["39632c089c", "24.04.202609160", "Succeeded"],
        ["6d7854a005", "24.04.202612020", "RolledBack"],
        ["39632c089c", "24.04.202609160", "Succeeded"],
    ]


def test_history_of_a_new_pool() -> None:
    assert view.render_history(new_pool()) == 'pool "web" has no rollout history yet\n'


@pytest.mark.parametrize(
    ("name", "to_revision", "version"),
    [
        ("stalled-rolled-back", None, "24.04.202609160"),
        ("rolling", None, "24.04.202609160"),
        ("rolling", "87064f340c", "24.04.202610220"),
        ("stalled-rolled-back", "6d7854a005", "24.04.202612020"),
    ],
)
def test_undo_target(name: str, to_revision: str | None, version: str) -> None:
    pool = fixture(name)
    entry = undo.undo_target(pool, to_revision)
    assert entry["imageVersion"] == version
    patch = undo.undo_patch(pool, version)
    assert patch == {"spec": {"image": {"marketplace": {"version": version}}}}


def test_undo_patches_a_gallery_version() -> None:
    pool = fixture("ready")
    pool["spec"]["image"] = {"gallery": {"imageId": "/x", "version": "1.2.0"}}
    assert undo.undo_patch(pool, "1.1.0") == {"spec": {"image": {"gallery": {"version": "1.1.0"}}}}


@pytest.mark.parametrize(
    ("name", "to_revision", "says"),
    [
        ("ready", None, "no earlier successful rollout to a version other than 24.04.202609160"),
        ("rolling", "0000000000", "revision 0000000000 is not in the pool's history"),
        ("creating", None, "no earlier successful rollout"),
    ],
)
def test_no_undo(name: str, to_revision: str | None, says: str) -> None:
    with pytest.raises(undo.NoUndo, match=says):
        undo.undo_target(fixture(name), to_revision)


def test_no_undo_of_a_managed_image() -> None:
    pool = copy.deepcopy(fixture("ready"))
    pool["spec"]["image"] = {"managedImageId": "/x"}
    with pytest.raises(undo.NoUndo, match="managed image"):
        undo.undo_patch(pool, "1.0.0")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("0", 0), ("90", 90), ("90s", 90), ("5m", 300), ("1h30m", 5400), ("2m5s", 125)],
)
def test_duration(text: str, seconds: float) -> None:
    assert duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5x", "m", "1.5m"])
def test_bad_duration(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        duration(text)


@pytest.mark.parametrize(
    "argv",
    [
        ["-n", "team", "status", "web"],
        ["status", "web", "-n", "team"],
        ["status", "--namespace", "team", "web"],
    ],
)
def test_connection_flags_go_before_or_after_the_command(argv: list[str]) -> None:
    args = build_parser().parse_args(argv)
    assert (args.command, args.pool, args.namespace) == ("status", "web", "team")


def test_the_namespace_defaults_to_the_contexts(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "a",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [
            {"name": "a", "context": {"cluster": "c", "user": "u", "namespace": "team-a"}},
            {"name": "b", "context": {"cluster": "c", "user": "u"}},
        ],
    }))  # fmt: skip
    assert Pools(ClusterTarget(str(kubeconfig), None, None)).namespace == "team-a"
    assert Pools(ClusterTarget(str(kubeconfig), "b", None)).namespace == "default"
    assert Pools(ClusterTarget(str(kubeconfig), "b", "mine")).namespace == "mine"
