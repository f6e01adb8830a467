"""CLI conventions: `--version`, `-h`, a short overview with no arguments, an example in every
command's `--help`, `--output table|tsv|json` forcing a format wherever it is given, and destructive
commands refused (exit 2, nothing done) without `--yes` when stdin is not a terminal."""

from __future__ import annotations

import json
import re

import pytest
import typer
from tests.support.daemon import DaemonProc, run_cli
from typer.core import TyperGroup

from mmctl import API_VERSION, __version__
from mmctl.cli.app import main
from mmctl.cli.root import app


def command_paths() -> list[list[str]]:
    """Every command and group of the app, as the words that name it."""
    paths: list[list[str]] = []

    def walk(cmd: object, path: list[str]) -> None:
        paths.append(path)
        if isinstance(cmd, TyperGroup):
            for name, sub in cmd.commands.items():
                walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return paths


def test_version_and_short_help_options() -> None:
    """`mmctl --version` prints the version and exits 0; `-h` is `--help`, for the app and a command."""
    r = run_cli("--version")
    assert r.returncode == 0
    assert r.stdout.strip() == f"mmctl {__version__} (api {API_VERSION})"
    for args in (["-h"], ["status", "-h"], ["config", "-h"]):
        r = run_cli(*args)
        assert r.returncode == 0, r.stderr
        assert "Usage: mmctl" in r.stdout


def test_no_arguments_prints_a_short_overview() -> None:
    """`mmctl` alone prints a short overview of the main commands (not the full help) and exits 0."""
    r = run_cli()
    assert r.returncode == 0
    lines = r.stdout.splitlines()
    assert len(lines) <= 15
    assert lines[0].startswith(f"mmctl {__version__}")
    assert any("mmctl status" in line for line in lines)
    assert "mmctl COMMAND --help" in r.stdout


def test_every_commands_help_has_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    """Each command's and group's `--help` shows an "Example" section with an `mmctl ...` line."""
    missing = []
    for path in command_paths():
        with pytest.raises(SystemExit) as done:
            main([*path, "--help"])
        assert done.value.code == 0
        text = capsys.readouterr().out
        if "Example" not in text or not re.search(r"\n +mmctl ", text):
            missing.append(" ".join(path) or "mmctl")
    assert missing == []


def test_output_forces_a_format_before_or_after_the_command(shared_daemon: DaemonProc) -> None:
    """Piped, `--output table` prints the aligned table, `--output tsv` the tab-separated one and
    `--output json` one JSON document, given before or after the command; it conflicts with --json."""
    shared_daemon.call("bot.create", {"name": "out1", "account": "paper", "symbol": "BTCUSDT"})
    table = shared_daemon.cli("--output", "table", "list")
    assert table.returncode == 0
    assert table.stdout.startswith("NAME ")
    assert "\t" not in table.stdout
    after = shared_daemon.cli("list", "--output", "table")
    assert after.stdout.splitlines()[0] == table.stdout.splitlines()[0]
    tsv = shared_daemon.cli("list", "--output=tsv")
    assert tsv.stdout.startswith("name\tstate\t")
    doc = json.loads(shared_daemon.cli("health", "--output", "json").stdout)
    assert doc["status"] in ("ok", "failing")
    clash = shared_daemon.cli("--output", "tsv", "list", "--json")
    assert clash.returncode == 2
    assert "disagree" in clash.stderr
    bad = shared_daemon.cli("--output", "yaml", "list")
    assert bad.returncode == 2


@pytest.mark.parametrize(
    "args",
    [
        ["cancel-all", "keep1"],
        ["cancel-all", "--all"],
        ["cancel-all", "--symbol", "BTCUSDT", "--account", "paper"],
        ["remove", "keep1"],
        ["stop", "--all", "--flatten"],
        ["paper", "reset", "paper"],
    ],
)
def test_destructive_commands_need_yes_without_a_terminal(daemon: DaemonProc, args: list[str]) -> None:
    """Without a terminal on stdin and without --yes a destructive command exits 2 saying to add --yes,
    and changes nothing (the bot is still there, no event was recorded for it)."""
    daemon.call("bot.create", {"name": "keep1", "account": "paper", "symbol": "BTCUSDT"})
    before = daemon.call("events.list", {"limit": 500})["result"]["last_seq"]
    r = daemon.cli(*args, stdin=None, input="")
    assert r.returncode == 2, r.stderr
    assert "--yes" in r.stderr
    assert "not a terminal" in r.stderr
    assert [row["name"] for row in daemon.call("bot.list")["result"]] == ["keep1"]
    assert daemon.call("events.list", {"limit": 500})["result"]["last_seq"] == before


def test_yes_lets_a_destructive_command_run_without_a_terminal(daemon: DaemonProc) -> None:
    """With --yes, `remove` runs from a script: the bot is gone."""
    daemon.call("bot.create", {"name": "gone1", "account": "paper", "symbol": "BTCUSDT"})
    r = daemon.cli("remove", "gone1", "--yes", input="")
    assert r.returncode == 0, r.stderr
    assert daemon.call("bot.list")["result"] == []
