"""The CLI builds only the command it runs (`mmctl.cli.root.app_for`): every command and group of the
app is found by the name users type, global options and their values before it are skipped, and
anything else (help, --version, a typo) gets the whole app."""

from __future__ import annotations

import typer.main

from mmctl.cli.root import app, app_for, command_word


def test_every_command_is_built_alone_under_the_name_users_type() -> None:
    """For each command and group of the full app, the app for that name holds exactly that one."""
    full = typer.main.get_command(app)
    names = sorted(full.commands)  # type: ignore[attr-defined]
    assert {"health", "list", "set", "cancel-all", "backtest", "strategies", "version"} <= set(names)
    for name in names:
        sliced = typer.main.get_command(app_for([name, "--help"]))
        assert sorted(sliced.commands) == [name]  # type: ignore[attr-defined]


def test_global_options_and_their_values_are_skipped_to_find_the_command() -> None:
    """The command word comes after global options, including those taking a value; none is found in
    a command line of options only, or after `--`."""
    assert command_word(["--socket", "/run/x.sock", "--json", "--timeout", "5", "status", "b1"]) == "status"
    assert command_word(["--output", "json", "pnl"]) == "pnl"
    assert command_word(["--version"]) is None
    assert command_word(["--", "status"]) is None


def test_help_version_and_unknown_words_get_the_whole_app() -> None:
    """Without a known command the whole app is used, so help lists every command and a typo's error
    can name them."""
    assert app_for(["--help"]) is app
    assert app_for(["--version"]) is app
    assert app_for(["stauts"]) is app
