"""`mmctl status --watch` fits a terminal: under tmux at 80×24 with 40 bots no row wraps, the header
stays on top, nothing reaches the scrollback, and a daemon restart shows "reconnecting" then recovers;
piped, it prints plain snapshots. The frame layout itself is pinned without a terminal."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator

import pytest
from tests.support.daemon import DaemonProc, wait_until

from mmctl.cli.watch import choose_columns, frame

PYTHON = sys.executable
NAMES = [f"bot{i:02d}" for i in range(40)]


class Tmux:
    """A private tmux server (its own socket, no user config) with one 80×24 window running a shell."""

    def __init__(self, env: dict[str, str]) -> None:
        self.name = f"mmctl-test-{uuid.uuid4().hex[:8]}"
        self.env = env
        self("new-session", "-d", "-x", "80", "-y", "24", "-s", "w", "sh")

    def __call__(self, *args: str) -> str:
        cmd = ["tmux", "-L", self.name, "-f", "/dev/null", *args]
        return subprocess.run(cmd, check=True, capture_output=True, text=True, env=self.env).stdout

    def screen(self) -> list[str]:
        """The visible screen, wrapped lines joined (a wrapped row shows up longer than 80)."""
        return self("capture-pane", "-p", "-J", "-t", "w").rstrip("\n").split("\n")

    def history_size(self) -> int:
        return int(self("display-message", "-p", "-t", "w", "#{history_size}").strip())

    def kill(self) -> None:
        subprocess.run(["tmux", "-L", self.name, "kill-server"], capture_output=True, check=False)


@pytest.fixture
def tmux() -> Iterator[Callable[[dict[str, str]], Tmux]]:
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    made: list[Tmux] = []

    def factory(env: dict[str, str]) -> Tmux:
        t = Tmux(env)
        made.append(t)
        return t

    yield factory
    for t in made:
        t.kill()


@pytest.mark.slow
def test_watch_fits_80x24_with_40_bots_and_survives_a_restart(
    daemon: DaemonProc, tmux: Callable[[dict[str, str]], Tmux]
) -> None:
    """At 80×24 with 40 bots the watch view keeps every row within 80 columns, its header on the first
    line, leaves no scrollback, says "reconnecting" while the daemon restarts, then shows the bots again."""
    for name in NAMES:
        assert "result" in daemon.call("bot.create", {"name": name, "account": "paper", "symbol": "BTCUSDT"})
    env = {**os.environ, "TERM": "xterm-256color"}
    env.pop("MMCTL_SOCKET", None)
    t = tmux(env)
    cmd = f"{PYTHON} -m mmctl --socket {daemon.socket} status --watch --interval 0.2"
    t("send-keys", "-t", "w", cmd, "Enter")

    def showing(text: str) -> Callable[[], bool]:
        return lambda: any(text in line for line in t.screen())

    wait_until(showing("bot00"), timeout=30, what="the watch view")
    screen = t.screen()
    assert len(screen) <= 24
    assert all(len(line) <= 80 for line in screen), screen
    assert screen[0].startswith("mmctl ")
    assert "daemon: up" in screen[0]
    assert "bots: 40" in screen[1]
    assert any("more bot(s)" in line for line in screen)
    assert t.history_size() == 0

    daemon.stop()
    wait_until(showing("reconnecting"), timeout=30, what="reconnecting")
    assert "bots: 40" in t.screen()[1]  # the last data stays on screen
    daemon.start()
    wait_until(lambda: "daemon: up" in t.screen()[0], timeout=60, what="the view to come back")

    t("send-keys", "-t", "w", "C-c", "")
    wait_until(lambda: not showing("daemon:")(), timeout=15, what="the alternate screen to close")
    assert t.history_size() == 0


def test_watch_piped_prints_plain_snapshots(daemon: DaemonProc) -> None:
    """Not on a terminal, `status --watch` prints plain snapshots (a time line and the TSV table), no
    escape sequences, until interrupted."""
    daemon.call("bot.create", {"name": "p1", "account": "paper", "symbol": "BTCUSDT"})
    env = {**os.environ, "TERM": "xterm"}
    proc = subprocess.Popen(
        [PYTHON, "-m", "mmctl", "--socket", str(daemon.socket), "status", "--watch", "--interval", "0.2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    try:

        def two_snapshots() -> bool:
            assert proc.stdout is not None
            lines.append(proc.stdout.readline())
            return sum(line.startswith("# ") for line in lines) >= 2

        wait_until(two_snapshots, what="two snapshots")
    finally:
        proc.terminate()
        proc.communicate(timeout=10)
    text = "".join(lines)
    assert "\x1b" not in text
    assert "name\tstate\tsymbol" in text
    assert "p1\tcreated" in text


def test_frames_fit_any_size_and_keep_the_header() -> None:
    """Every frame fits its width and height, the header with the daemon state comes first, columns
    are dropped by priority (name and state last), numbers are right-aligned."""
    rows = [
        {"name": f"b{i}", "state": "running", "symbol": "BTC/USDT:USDT", "mid": "50000.05",
         "position": "0.01", "unrealized_pnl": "-1.5", "realized_pnl": "2", "open_orders": 4,
         "last_error": "x" * 200}
        for i in range(40)
    ]  # fmt: skip
    for width, height in ((80, 24), (40, 10), (200, 60), (12, 3)):
        lines = frame(None, rows, "reconnecting (gone)", width, height, "12:00:00")
        assert len(lines) <= height
        assert all(len(line) <= width for line in lines)
        assert lines[0].startswith("mmctl 12:00:00"[: width - 1])
    columns, _ = choose_columns(30)
    assert [c.key for c in columns] == ["name", "state"]
    wide = frame(None, rows[:1], "up", 120, 24, "t")
    header, row = wide[2], wide[3]
    assert header.index("POSITION") + len("POSITION") == row.index("0.01") + len("0.01")
    detail = frame("b1", {"name": "b1", "state": "running", "orders": []}, "up", 80, 24, "t")
    assert detail[1].startswith("b1  RUNNING")


def test_dumb_terminal_gets_snapshots(monkeypatch: pytest.MonkeyPatch) -> None:
    """`TERM=dumb` turns the full-screen view off even on a terminal, as does a forced format."""
    from mmctl.cli.output import Output
    from mmctl.cli.watch import full_screen

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setenv("TERM", "dumb")
    assert not full_screen(Output(stream=Tty()))
    monkeypatch.setenv("TERM", "xterm")
    assert full_screen(Output(stream=Tty()))
    assert not full_screen(Output(stream=Tty(), fmt="tsv"))
