"""`vmroll` where the local stack is absent: its commands say so instead of vanishing."""

from __future__ import annotations

import pytest

from vmroll import cli


def test_the_checkouts_local_commands_are_available() -> None:
    assert [cli.unavailable_reason(command) for command in cli.LOCAL_COMMANDS] == [None] * 5


def test_a_command_whose_package_is_absent_says_it_needs_a_source_checkout(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    absent = cli.LocalCommand("dev", "vmroll.not_installed.cli", "run the local stack")
    monkeypatch.setattr(cli, "LOCAL_COMMANDS", (absent,))
    assert cli.main(["dev", "--anything"]) == 2
    message = capsys.readouterr().err
    assert "`vmroll dev` is not part of this installation" in message
    assert "make dev" in message


def test_a_command_whose_dependencies_are_absent_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli, "LOCAL_DEPENDENCIES", ("jwt", "not_installed_dependency"))
    assert cli.main(["emulator", "serve"]) == 2
    message = capsys.readouterr().err
    assert "needs the local stack's dependencies (not_installed_dependency)" in message
    assert "pip install -e '.[local]'" in message


def test_other_commands_still_refuse_unknown_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["crds", "--no-such-flag"])
    assert exit_info.value.code == 2
    assert "unrecognized arguments: --no-such-flag" in capsys.readouterr().err
