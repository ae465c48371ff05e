"""`vmroll run` trusts nothing beyond the known clouds and its own namespace unless told to."""

from __future__ import annotations

import pytest

from vmroll.cli import build_parser


def test_by_default_custom_endpoints_are_refused_and_secrets_come_from_vmroll_system(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("POD_NAMESPACE", raising=False)

    args = build_parser().parse_args(["run"])

    assert args.allow_custom_endpoints is False
    assert args.cluster_resource_namespace == "vmroll-system"


def test_in_a_pod_secrets_come_from_the_pods_namespace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POD_NAMESPACE", "platform")

    args = build_parser().parse_args(["run"])

    assert args.cluster_resource_namespace == "platform"


def test_the_flags_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POD_NAMESPACE", "platform")

    args = build_parser().parse_args(
        ["run", "--allow-custom-endpoints", "--cluster-resource-namespace", "ops"]
    )

    assert args.allow_custom_endpoints is True
    assert args.cluster_resource_namespace == "ops"
