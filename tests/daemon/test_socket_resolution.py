"""One socket everybody finds (issue 13 item 1): the order of `resolve_socket_choice`, then the real CLI
and daemon in subprocesses with an empty environment (`env -i`, as cron gives), a login shell's
environment, as root, as a service user under "systemd", as a member and a non-member of its group.

The subprocess tests run in a private mount namespace with fresh tmpfs on /run and /tmp, so the daemon
can own /run/mmctl/mmctl.sock and /tmp/mmctl-<uid>/ without touching the machine; they need root,
unshare, nsenter and setpriv, and are skipped where those are missing.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.support.daemon import answers, wait_until

from mmctl.paths import SYSTEM_SOCKET, resolve_socket_choice

PYTHON = sys.executable
SHELL_PATH = "/usr/local/bin:/usr/bin:/bin"


# --- the order, in-process ------------------------------------------------------------------------------


def nothing_exists(path: Path) -> bool:
    return False


def only(*existing: Path) -> Callable[[Path], bool]:
    return lambda path: path in existing


def test_named_sockets_come_first_in_their_order_for_daemon_and_cli() -> None:
    """`--socket`, then `$MMCTL_SOCKET`, then the config's socket, for both ends."""
    env = {"MMCTL_SOCKET": "/e.sock", "RUNTIME_DIRECTORY": "/run/mmctl"}
    for role in ("daemon", "cli"):
        system = only(SYSTEM_SOCKET)
        c = resolve_socket_choice("/cli.sock", "/cfg.sock", env, role=role, uid=1000, exists=system)
        assert (c.path, c.origin) == (Path("/cli.sock"), "--socket")
        c = resolve_socket_choice(None, "/cfg.sock", env, role=role, uid=1000, exists=system)
        assert (c.path, c.origin) == (Path("/e.sock"), "$MMCTL_SOCKET")
        c = resolve_socket_choice(None, "/cfg.sock", {}, role=role, uid=1000, exists=system)
        assert c.path == Path("/cfg.sock")


def test_the_daemon_uses_the_system_socket_under_systemd_and_as_root() -> None:
    """Under systemd (RUNTIME_DIRECTORY=/run/mmctl) or as root, the daemon serves /run/mmctl/mmctl.sock."""
    systemd = {"RUNTIME_DIRECTORY": "/run/mmctl", "XDG_RUNTIME_DIR": "/run/user/998"}
    assert resolve_socket_choice(None, "", systemd, role="daemon", uid=998).path == SYSTEM_SOCKET
    assert resolve_socket_choice(None, "", {}, role="daemon", uid=0).path == SYSTEM_SOCKET
    xdg = {"XDG_RUNTIME_DIR": "/run/user/1000"}
    assert resolve_socket_choice(None, "", xdg, role="daemon", uid=1000).path == Path(
        "/run/user/1000/mmctl/mmctl.sock"
    )


def test_the_cli_prefers_an_existing_system_socket_over_the_per_user_default() -> None:
    """Any user's CLI takes /run/mmctl/mmctl.sock when it exists, whatever its environment says."""
    shell = {"XDG_RUNTIME_DIR": "/run/user/1000", "HOME": "/home/op"}
    for env in (shell, {}):
        c = resolve_socket_choice(None, "", env, role="cli", uid=1000, exists=only(SYSTEM_SOCKET))
        assert c.path == SYSTEM_SOCKET


def test_the_cli_takes_the_per_user_socket_that_exists_so_shell_and_cron_agree() -> None:
    """With no system socket, a shell (XDG_RUNTIME_DIR set) finds a daemon that cron started on the
    /tmp fallback, and with nothing running it names its first choice."""
    uid = 48_123  # no /run/user/<uid> on this machine
    xdg = {"XDG_RUNTIME_DIR": f"/run/user/{uid}"}
    fallback = Path(f"/tmp/mmctl-{uid}/mmctl.sock")
    c = resolve_socket_choice(None, "", xdg, role="cli", uid=uid, exists=only(fallback))
    assert (c.path, c.origin) == (fallback, "the per-user default")
    assert resolve_socket_choice(None, "", {}, role="cli", uid=uid, exists=only(fallback)).path == fallback
    first = resolve_socket_choice(None, "", xdg, role="cli", uid=uid, exists=nothing_exists)
    assert first.path == Path(f"/run/user/{uid}/mmctl/mmctl.sock")
    assert resolve_socket_choice(None, "", {}, role="daemon", uid=uid).path == fallback


def test_root_cli_uses_the_system_socket_even_when_it_is_missing() -> None:
    """Root's per-user default is the system socket, so `mmctl` as root names /run/mmctl/mmctl.sock."""
    env = {"XDG_RUNTIME_DIR": "/run/user/0"}
    c = resolve_socket_choice(None, "", env, role="cli", uid=0, exists=nothing_exists)
    assert c.path == SYSTEM_SOCKET


# --- the real CLI and daemon in a private mount namespace -----------------------------------------------


class Namespace:
    """A mount namespace with private tmpfs on /run and /tmp, and commands run inside it as any user."""

    def __init__(self, holder: subprocess.Popen[str]) -> None:
        self.holder = holder
        self.root = Path(f"/proc/{holder.pid}/root")
        self.daemons: list[subprocess.Popen[str]] = []

    def host(self, path: str | Path) -> Path:
        """The namespace's `path` as seen from the test process."""
        return self.root / Path(path).relative_to("/")

    def argv(self, uid: int, gid: int, groups: tuple[int, ...], *args: str) -> list[str]:
        who = [f"--reuid={uid}", f"--regid={gid}"]
        who.append(f"--groups={','.join(map(str, groups))}" if groups else "--clear-groups")
        return ["nsenter", f"--mount=/proc/{self.holder.pid}/ns/mnt", "--", "setpriv", *who, "--", *args]

    def mmctl(
        self, *args: str, uid: int = 0, groups: tuple[int, ...] = (), env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """The real CLI as `uid`, with exactly `env` (empty by default, as `env -i` gives)."""
        argv = self.argv(uid, uid, groups, PYTHON, "-m", "mmctl", *args)
        return subprocess.run(argv, env=env or {}, capture_output=True, text=True, timeout=120, cwd="/")

    def daemon(self, *args: str, uid: int = 0, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        argv = self.argv(uid, uid, (), PYTHON, "-m", "mmctl", "daemon", "run", *args)
        proc = subprocess.Popen(
            argv, env=env or {}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd="/"
        )
        self.daemons.append(proc)
        return proc

    def serving(self, proc: subprocess.Popen[str], socket_path: str) -> None:
        """Wait until the daemon answers on `socket_path` (inside the namespace)."""
        wait_until(lambda: answers(self.host(socket_path)) or proc.poll() is not None, 60, "daemon socket")
        if proc.poll() is not None:
            raise AssertionError(f"daemon exited early: {proc.communicate()[0]}")

    def mkdir(self, path: str, uid: int = 0, mode: int = 0o755) -> None:
        p = self.host(path)
        p.mkdir(parents=True)
        os.chown(p, uid, uid)
        os.chmod(p, mode)

    def write(self, path: str, text: str, uid: int = 0) -> None:
        p = self.host(path)
        p.write_text(text)
        os.chown(p, uid, uid)

    def close(self) -> None:
        for proc in self.daemons:
            if proc.poll() is None:
                proc.kill()
            proc.communicate()
        assert self.holder.stdin is not None
        self.holder.stdin.close()
        self.holder.wait(30)


@pytest.fixture
def ns() -> Iterator[Namespace]:
    """A private mount namespace (skipped where one cannot be made, or other users cannot run Python)."""
    if os.geteuid() != 0 or not all(shutil.which(t) for t in ("unshare", "nsenter", "setpriv")):
        pytest.skip("needs root, unshare, nsenter and setpriv")
    script = (
        "mount -t tmpfs -o mode=755 tmpfs /run && mount -t tmpfs -o mode=1777 tmpfs /tmp"
        " && echo ready && exec cat"
    )
    holder = subprocess.Popen(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    if holder.stdout.readline().strip() != "ready":
        holder.kill()
        pytest.skip(f"cannot make a private mount namespace: {holder.communicate()[1].strip()}")
    space = Namespace(holder)
    try:
        argv = space.argv(4999, 4999, (), PYTHON, "-c", "import mmctl.cli.app")
        probe = subprocess.run(argv, env={}, capture_output=True, cwd="/")
        if probe.returncode != 0:
            pytest.skip("the test interpreter cannot run as another user on this machine")
        yield space
    finally:
        space.close()


def health_socket(r: subprocess.CompletedProcess[str]) -> str:
    assert r.returncode == 0, r.stderr
    return str(json.loads(r.stdout)["socket"])


def shell_env(uid: int, home: str) -> dict[str, str]:
    """What a login shell or `ssh host mmctl ...` has: HOME, PATH, XDG_RUNTIME_DIR and friends."""
    return {
        "HOME": home,
        "PATH": SHELL_PATH,
        "XDG_RUNTIME_DIR": f"/run/user/{uid}",
        "SHELL": "/bin/sh",
        "LANG": "C.UTF-8",
        "SSH_CONNECTION": "127.0.0.1 40000 127.0.0.1 22",
    }


def stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    return out


@pytest.mark.slow
def test_root_daemon_and_root_cli_meet_on_the_system_socket_in_any_environment(ns: Namespace) -> None:
    """A root daemon started with `env -i` serves /run/mmctl/mmctl.sock; root's CLI finds it from cron
    (`env -i`), a login shell and ssh alike."""
    ns.write("/tmp/root.toml", '[daemon]\nstate_dir = "/tmp/state-root"\n')
    daemon = ns.daemon("--config", "/tmp/root.toml")
    ns.serving(daemon, "/run/mmctl/mmctl.sock")
    for env in ({}, shell_env(0, "/nonexistent"), {"PATH": SHELL_PATH}):
        assert health_socket(ns.mmctl("health", "--json", env=env)) == "/run/mmctl/mmctl.sock"
    stop(daemon)


@pytest.mark.slow
def test_group_members_reach_the_service_daemon_and_others_are_told_to_join(ns: Namespace) -> None:
    """A daemon running as a service user under "systemd" (RUNTIME_DIRECTORY=/run/mmctl, made 0750 by
    systemd) is found by a member of its group from cron and a shell; a non-member gets exit 4 naming
    the socket and how to join the group."""
    service, member, outsider = 4301, 4302, 4303
    ns.mkdir("/run/mmctl", uid=service, mode=0o750)
    ns.mkdir("/tmp/state-svc", uid=service, mode=0o750)
    systemd_env = {"RUNTIME_DIRECTORY": "/run/mmctl", "STATE_DIRECTORY": "/tmp/state-svc"}
    daemon = ns.daemon(uid=service, env=systemd_env)
    ns.serving(daemon, "/run/mmctl/mmctl.sock")
    for env in ({}, shell_env(member, "/nonexistent")):
        r = ns.mmctl("health", "--json", uid=member, groups=(service,), env=env)
        assert health_socket(r) == "/run/mmctl/mmctl.sock"
    r = ns.mmctl("status", uid=outsider)
    assert r.returncode == 4, r.stderr
    assert "permission denied on /run/mmctl/mmctl.sock (the system socket)" in r.stderr
    assert f"usermod -aG {service}" in r.stderr
    stop(daemon)


@pytest.mark.slow
def test_a_users_own_daemon_started_from_cron_is_found_from_a_shell(ns: Namespace) -> None:
    """With no login session (no /run/user/<uid>), a user's daemon started by cron uses the /tmp
    fallback, and the same user's CLI finds it from cron and from a shell whose XDG_RUNTIME_DIR
    points elsewhere."""
    user = 4401
    ns.write("/tmp/u.toml", f'[daemon]\nstate_dir = "/tmp/state-{user}"\n', uid=user)
    daemon = ns.daemon("--config", "/tmp/u.toml", uid=user)
    expected = f"/tmp/mmctl-{user}/mmctl.sock"
    ns.serving(daemon, expected)
    for env in ({}, shell_env(user, "/nonexistent")):
        assert health_socket(ns.mmctl("health", "--json", uid=user, env=env)) == expected
    stop(daemon)


@pytest.mark.slow
def test_a_users_daemon_started_in_a_login_session_is_found_from_cron(ns: Namespace) -> None:
    """A daemon started in a shell ($XDG_RUNTIME_DIR=/run/user/<uid>) is found by cron's CLI, which
    has no XDG_RUNTIME_DIR, through /run/user/<uid>."""
    user = 4402
    ns.mkdir("/run/user", mode=0o755)
    ns.mkdir(f"/run/user/{user}", uid=user, mode=0o700)
    ns.write("/tmp/u.toml", f'[daemon]\nstate_dir = "/tmp/state-{user}"\n', uid=user)
    daemon = ns.daemon("--config", "/tmp/u.toml", uid=user, env=shell_env(user, "/nonexistent"))
    expected = f"/run/user/{user}/mmctl/mmctl.sock"
    ns.serving(daemon, expected)
    assert health_socket(ns.mmctl("health", "--json", uid=user)) == expected
    stop(daemon)


@pytest.mark.slow
def test_a_tmp_fallback_made_by_another_user_is_refused_by_the_cli_and_the_daemon(ns: Namespace) -> None:
    """Another user's /tmp/mmctl-<uid>/ with a listener in it: the user's `stop --all` from cron exits 4
    naming the directory and its owner and never connects; the user's daemon refuses to start there."""
    user, attacker = 4501, 4502
    ns.mkdir(f"/tmp/mmctl-{user}", uid=attacker, mode=0o755)
    trap = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    trap_path = ns.host(f"/tmp/mmctl-{user}/mmctl.sock")
    trap.bind(str(trap_path))
    os.chown(trap_path, attacker, attacker)
    os.chmod(trap_path, 0o777)  # the impostor wants its victims to get in
    trap.listen(4)
    trap.setblocking(False)
    try:
        r = ns.mmctl("stop", "--all", uid=user)
        assert r.returncode == 4, r.stderr
        assert f"the socket directory /tmp/mmctl-{user} is owned by uid {attacker}" in r.stderr
        with pytest.raises(BlockingIOError):
            trap.accept()
        ns.write("/tmp/u.toml", f'[daemon]\nstate_dir = "/tmp/state-{user}"\n', uid=user)
        daemon = ns.daemon("--config", "/tmp/u.toml", uid=user)
        out, _ = daemon.communicate(timeout=60)
        assert daemon.returncode == 1, out
        assert f"owned by uid {attacker}" in out
    finally:
        trap.close()


def test_no_daemon_exits_3_naming_the_socket_tried_and_how_to_start_one(ns: Namespace) -> None:
    """From cron with nothing running, exit 3 names the per-user socket tried and both ways to start."""
    user = 4601
    r = ns.mmctl("status", uid=user)
    assert r.returncode == 3, r.stderr
    assert f"/tmp/mmctl-{user}/mmctl.sock (the per-user default)" in r.stderr
    assert "mmctl daemon run" in r.stderr
    assert "systemctl start mmctl" in r.stderr
