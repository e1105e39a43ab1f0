"""The command line: which arguments make a sub-command, and settings flags on either side."""

from __future__ import annotations

from pathlib import Path

import pytest

from kuaichu import settings as settings_mod
from kuaichu.cli import parse_args


def test_server_mode_takes_a_setting_whose_value_is_a_command_name() -> None:
    # Before: any argument equal to a command switched to sub-command mode.
    _, args = parse_args(["--data-dir", "officer", "--log-level", "registry"])
    assert getattr(args, "command", None) is None
    s = settings_mod.load(args, environ={})
    assert s.data_dir == Path("officer") and s.log_level == "registry"


def test_abbreviated_flag_value_is_not_a_command() -> None:
    _, args = parse_args(["--data-d", "evidence"])  # argparse takes a unique prefix
    assert getattr(args, "command", None) is None
    assert args.data_dir == "evidence"


def test_first_positional_is_the_command_and_later_ones_are_its_arguments() -> None:
    _, args = parse_args(["--data-dir", "registry", "officer", "add", "officer", "--name", "张"])
    assert args.command == "officer" and args.action == "add" and args.username == "officer"
    assert args.data_dir == "registry" and args.name == "张"


@pytest.mark.parametrize(
    "argv",
    [
        ["--data-dir", "D", "officer", "list"],
        ["officer", "--data-dir", "D", "list"],
        ["officer", "list", "--data-dir", "D"],
        ["officer", "list", "--data-dir=D"],
    ],
)
def test_settings_flags_before_or_after_the_command(argv: list[str]) -> None:
    _, args = parse_args(argv)
    assert args.command == "officer" and args.action == "list"
    assert settings_mod.load(args, environ={}).data_dir == Path("D")


def test_settings_flags_after_a_nested_command() -> None:
    _, args = parse_args(["registry", "import", "licences", "x.csv", "--port", "9000"])
    assert args.registry_command == "import" and args.file == Path("x.csv")
    assert settings_mod.load(args, environ={}).port == 9000


def test_a_flag_before_the_command_is_kept_and_one_after_it_wins() -> None:
    _, args = parse_args(["--port", "1", "--host", "h", "selfsigned", "--port", "2"])
    s = settings_mod.load(args, environ={})
    assert (s.port, s.host) == (2, "h")


def test_a_positional_that_is_not_a_command_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse_args(["--port", "1", "serve", "officer"])
    assert "unrecognized arguments" in capsys.readouterr().err


def test_command_help_does_not_list_the_settings(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse_args(["officer", "--help"])
    out = capsys.readouterr().out
    assert "--password" in out and "--data-dir" not in out
