"""The node's tests are deselected only by the explicit variable (tests/e2e/conftest.py)."""

from __future__ import annotations

from e2e_harness import node_tests_opted_out


def test_the_node_tests_are_deselected_only_by_the_explicit_variable() -> None:
    assert node_tests_opted_out({"VMROLL_SKIP_NODE_TESTS": "1"})
    assert not node_tests_opted_out({})
    assert not node_tests_opted_out({"VMROLL_SKIP_NODE_TESTS": "yes"})
