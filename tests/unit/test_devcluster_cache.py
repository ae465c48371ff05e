"""The binary cache's key and completion marker: what counts as a good cache."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from vmroll.devcluster.cache import (
    BUILD_COMMANDS,
    CacheCheck,
    CacheVerdict,
    cache_dir_name,
    cache_key,
    judge_marker,
    read_wrapper_files,
    render_marker,
)
from vmroll.devcluster.toolsets import CONTROLPLANE, HELM_SET, IMAGETOOL_SET

FILES = {"kube/go.mod": b"module kube\n", "kube/go.sum": b"sum\n", "etcd/go.mod": b"module etcd\n"}
DIGESTS = {"etcd": "e" * 64, "kube-apiserver": "a" * 64, "kubectl": "c" * 64}


def test_cache_key_is_short_and_stable_whatever_the_order() -> None:
    key = cache_key(FILES)
    assert len(key) == 12
    assert cache_key(dict(reversed(FILES.items()))) == key


@pytest.mark.parametrize(
    "changed",
    [
        {**FILES, "kube/go.sum": b"sum2\n"},
        {**FILES, "etcd/go.sum": b""},
        {"kube/go.mod": b"module kube\nsum\n", "kube/go.sum": b"", "etcd/go.mod": b"module etcd\n"},
    ],
    ids=["content", "added file", "bytes moved between files"],
)
def test_cache_key_changes_with_any_wrapper_file(changed: dict[str, bytes]) -> None:
    assert cache_key(changed) != cache_key(FILES)


def test_cache_dir_name_carries_the_versions() -> None:
    assert cache_dir_name(CONTROLPLANE, "abc123def456") == "k8s-v1.36.3-etcd-v3.6.8-abc123def456"
    assert cache_dir_name(HELM_SET, "abc123def456") == "helm-v3.22.0-abc123def456"


def corrupted(reason: str) -> CacheCheck:
    return CacheCheck(CacheVerdict.CORRUPTED, reason)


@pytest.mark.parametrize(
    ("marker", "digests", "expected"),
    [
        (render_marker(CONTROLPLANE, "k1", DIGESTS), DIGESTS, CacheCheck(CacheVerdict.VALID)),
        (None, DIGESTS, corrupted("no completion marker (an interrupted build?)")),
        ("{not json", DIGESTS, corrupted("the completion marker is unreadable")),
        (json.dumps({"key": "k1"}), DIGESTS, corrupted("the completion marker is unreadable")),
        (
            render_marker(CONTROLPLANE, "k0", DIGESTS),
            DIGESTS,
            corrupted("the marker is for key k0, not k1"),
        ),
        (
            render_marker(CONTROLPLANE, "k1", DIGESTS),
            {**DIGESTS, "kubectl": None},
            corrupted("kubectl is missing"),
        ),
        (
            render_marker(CONTROLPLANE, "k1", DIGESTS),
            {**DIGESTS, "kube-apiserver": "0" * 64},
            corrupted("kube-apiserver does not match its recorded sha256"),
        ),
        (
            render_marker(CONTROLPLANE, "k1", {k: v for k, v in DIGESTS.items() if k != "etcd"}),
            DIGESTS,
            corrupted("etcd does not match its recorded sha256"),
        ),
    ],
    ids=[
        "valid",
        "no marker",
        "garbled marker",
        "marker without digests",
        "other key",
        "binary missing",
        "binary changed",
        "binary not recorded",
    ],
)
def test_judge_marker(
    marker: str | None, digests: dict[str, str | None], expected: CacheCheck
) -> None:
    assert judge_marker(marker, "k1", digests) == expected


def test_the_key_changes_with_the_build_commands() -> None:
    stamped = read_wrapper_files(HELM_SET)
    restamped = replace(HELM_SET, builds=(replace(HELM_SET.builds[0], ldflags="-s -w"),))
    assert stamped[BUILD_COMMANDS] != read_wrapper_files(restamped)[BUILD_COMMANDS]
    assert cache_key(stamped) != cache_key(read_wrapper_files(restamped))
    assert stamped.keys() == {"helm/go.mod", "helm/go.sum", BUILD_COMMANDS}


def test_a_set_with_a_program_of_its_own_keys_its_cache_on_the_program_too() -> None:
    files = read_wrapper_files(IMAGETOOL_SET)
    assert set(files) == {
        "imagetool/go.mod",
        "imagetool/go.sum",
        "imagetool/main.go",
        BUILD_COMMANDS,
    }
    assert b"package main" in files["imagetool/main.go"]
