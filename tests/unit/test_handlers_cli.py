"""`vmroll run` checks its flags before anything starts: the Lease's namespace, the log level,
the counts of writes and passes at once."""

from __future__ import annotations

import pytest

from vmroll.cli import build_parser, main


def test_leader_elect_without_a_namespace_says_what_to_set(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("POD_NAMESPACE", raising=False)

    assert main(["run", "--leader-elect"]) == 2
    error = capsys.readouterr().err
    assert "--leader-election-namespace NS" in error
    assert "POD_NAMESPACE" in error


@pytest.mark.parametrize("level", ["debug", "info", "warning"])
def test_log_level_takes_the_levels_the_chart_offers(level: str) -> None:
    assert build_parser().parse_args(["run", "--log-level", level]).log_level == level


def test_log_level_refuses_another_level_naming_the_choices(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["run", "--log-level", "trace"])
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert "argument --log-level: invalid choice: 'trace'" in error
    assert all(level in error for level in ("debug", "info", "warning"))


@pytest.mark.parametrize("flag", ["--concurrency", "--concurrent-passes"])
@pytest.mark.parametrize("value", ["0", "-3", "many"])
def test_a_count_at_once_below_one_is_refused_naming_the_flag(
    flag: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["run", flag, value])
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert f"argument {flag}: '{value}' is not a whole number of 1 or more" in error


def test_counts_at_once_take_a_positive_number() -> None:
    args = build_parser().parse_args(["run", "--concurrency", "4", "--concurrent-passes", "7"])
    assert (args.concurrency, args.concurrent_passes) == (4, 7)
