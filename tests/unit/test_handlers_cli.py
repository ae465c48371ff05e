"""`vmroll run` refuses `--leader-elect` without a namespace for the Lease, before starting."""

from __future__ import annotations

import pytest

from vmroll.cli import main


def test_leader_elect_without_a_namespace_says_what_to_set(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("POD_NAMESPACE", raising=False)

    assert main(["run", "--leader-elect"]) == 2
    error = capsys.readouterr().err
    assert "--leader-election-namespace NS" in error
    assert "POD_NAMESPACE" in error
