"""Shell completion: the completer's table matches the typer app, it completes commands, options, fixed
values and the daemon's bot names, never fails or prints an error without a daemon, never imports typer,
and the bash script it prints completes through it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from tests.support.daemon import DaemonProc, run_cli
from typer.core import TyperGroup, TyperOption

from mmctl.cli.complete import COMMANDS, GLOBAL_OPTIONS, VALUE_OPTIONS, candidates, config_candidates
from mmctl.cli.root import app

PYTHON = sys.executable


def app_tree() -> tuple[dict[str, set[str]], set[str], set[str]]:
    """The typer app's commands ("group sub") with their options, its global options, and every option
    that takes a value."""
    root = typer.main.get_command(app)
    commands: dict[str, set[str]] = {}
    valued: set[str] = set()

    def walk(cmd: object, path: tuple[str, ...]) -> None:
        if isinstance(cmd, TyperGroup):
            for name, sub in cmd.commands.items():
                walk(sub, (*path, name))
            return
        opts: set[str] = set()
        for p in getattr(cmd, "params", []):
            if isinstance(p, TyperOption):
                opts.update(p.opts)
                if not p.is_flag:
                    valued.update(p.opts)
        commands[" ".join(path)] = opts

    walk(root, ())
    globals_ = {o for p in root.params if isinstance(p, TyperOption) for o in p.opts}
    valued.update(o for p in root.params if isinstance(p, TyperOption) and not p.is_flag for o in p.opts)
    return commands, globals_, valued


def test_the_completion_table_matches_the_app() -> None:
    """Every command and option of the typer app is in the completer's table and nothing else is: a new
    command or option fails this test until the table learns it."""
    commands, globals_, valued = app_tree()
    assert {k: set(v[0]) for k, v in COMMANDS.items()} == commands
    assert set(GLOBAL_OPTIONS) - {"--help", "-h"} == globals_
    assert valued <= VALUE_OPTIONS


def test_commands_options_and_values_complete_without_a_daemon() -> None:
    """Command names, sub-commands, options and fixed option values complete from the table alone."""
    assert candidates(["st"]) == ["start", "status", "stop", "strategies"]
    assert candidates(["config", ""]) == ["check", "init", "show"]
    assert candidates(["stop", "--a"]) == ["--all"]
    assert candidates(["--ou"]) == ["--output"]
    assert candidates(["--output", ""]) == ["table", "tsv", "json"]
    assert candidates(["pnl", "--by", "w"]) == ["week"]
    assert candidates(["completion", ""]) == ["bash", "zsh", "fish"]
    assert candidates(["--socket", "/tmp/nowhere.sock", "create", ""]) == []


def test_bot_names_come_from_the_daemon(daemon: DaemonProc) -> None:
    """A bot-name argument completes to the daemon's bots (through the `mmctl __complete` entry, as the
    scripts call it), with the prefix typed."""
    for name in ("eth1", "eth2", "btc1"):
        daemon.call("bot.create", {"name": name, "account": "paper", "symbol": "BTCUSDT"})
    r = daemon_complete(daemon.socket, "status", "")
    assert r.returncode == 0
    assert r.stdout.split() == ["btc1", "eth1", "eth2"]
    assert daemon_complete(daemon.socket, "stop", "eth1", "e").stdout.split() == ["eth1", "eth2"]
    assert daemon_complete(daemon.socket, "pnl", "--bot", "b").stdout.split() == ["btc1"]


def daemon_complete(sock: Path, *words: str) -> subprocess.CompletedProcess[str]:
    return run_cli("__complete", "--socket", str(sock), *words)


def test_no_daemon_means_no_names_and_no_error(short_tmp: Path) -> None:
    """With nothing listening on the socket a bot-name TAB prints nothing at all and exits 0."""
    r = run_cli("__complete", "--socket", str(short_tmp / "none.sock"), "status", "")
    assert r.returncode == 0
    assert r.stdout == ""
    assert r.stderr == ""


def test_the_completer_never_imports_typer() -> None:
    """`mmctl __complete` answers without importing typer (or the daemon's dependencies)."""
    code = (
        "import sys\n"
        "from mmctl.cli.app import main\n"
        "try:\n    main(['__complete', 'st'])\nexcept SystemExit:\n    pass\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('typer', 'ccxt', 'structlog'))\n"
        "print('HEAVY', heavy)\n"
    )
    r = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, check=True)
    assert "HEAVY []" in r.stdout


def test_config_candidates_agree_with_the_config_loader(monkeypatch: pytest.MonkeyPatch) -> None:
    """The completer looks for the config where `mmctl.config.load` does."""
    from mmctl.config.load import candidate_paths

    monkeypatch.delenv("MMCTL_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", "/somewhere")
    assert config_candidates() == [str(p) for p in candidate_paths()]


def test_the_bash_script_completes_through_mmctl(daemon: DaemonProc) -> None:
    """`mmctl completion bash`, sourced in bash, fills COMPREPLY with command names and bot names."""
    if shutil.which("bash") is None:
        pytest.skip("bash is not installed")
    daemon.call("bot.create", {"name": "sol1", "account": "paper", "symbol": "BTCUSDT"})
    script = run_cli("completion", "bash")
    assert script.returncode == 0
    program = (
        f"{script.stdout}\n"
        'COMP_WORDS=(mmctl sta); COMP_CWORD=1; _mmctl_complete; echo "${COMPREPLY[*]}"\n'
        f"COMP_WORDS=(mmctl --socket {daemon.socket} start so); COMP_CWORD=4; _mmctl_complete; "
        'echo "${COMPREPLY[*]}"\n'
    )
    env = {**os.environ, "PATH": f"{Path(PYTHON).parent}:{os.environ.get('PATH', '')}"}
    r = subprocess.run(["bash", "-c", program], capture_output=True, text=True, env=env, check=True)
    assert r.stdout.splitlines() == ["start status", "sol1"]


def test_completion_scripts_for_each_shell_and_a_bad_shell() -> None:
    """Each supported shell gets a script calling `mmctl __complete`; another shell is a usage error."""
    for shell in ("bash", "zsh", "fish"):
        r = run_cli("completion", shell)
        assert r.returncode == 0
        assert "mmctl __complete" in r.stdout
    bad = run_cli("completion", "tcsh")
    assert bad.returncode == 2
    assert "bash, zsh, fish" in bad.stderr


@pytest.mark.slow
def test_the_completion_bench_prints_its_figure_line() -> None:
    """`bench/completion.py` runs against a private daemon and ends with `completion_ms=<median>`."""
    bench = Path(__file__).resolve().parents[2] / "bench" / "completion.py"
    r = subprocess.run([PYTHON, str(bench), "2"], capture_output=True, text=True, timeout=300, check=True)
    last = r.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"completion_ms=\d+\.\d", last), last
