"""The README's "Install as a service" steps, executed against a scratch root without a running systemd:
each command of the section is run for real where it can be (`install`, `systemd-sysusers --root`,
`systemd-tmpfiles --root`, `systemctl --root enable`, `mmctl config init` from the files a wheel
carries), then the unit's ExecStart runs as its User= with the directories and variables systemd would
give it, until READY=1, and an operator in the `mmctl` group gets a working `mmctl status`.

Not covered here: `pip install .` from an index (replaced by the package as setuptools builds it, the
same files the wheel holds), `apt-get`, and systemd's own start (its environment is reproduced). Finding
/run/mmctl/mmctl.sock without `$MMCTL_SOCKET` is pinned by tests/daemon/test_socket_resolution.py.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from tests.support.daemon import wait_until

from mmctl.config.load import load_file

CHECKOUT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable


def install_steps() -> list[str]:
    """The commands of the README's first shell block under "## Install as a service", comments removed."""
    text = (CHECKOUT / "README.md").read_text()
    section = text.split("## Install as a service\n", 1)[1].split("\n## ", 1)[0]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    out = []
    for line in block.splitlines():
        command = line.split("  #", 1)[0].strip()
        if command:
            out.append(command)
    return out


def build_package(dest: Path) -> None:
    """The package's files as `pip install .` would install them (setuptools' build_py: what the wheel
    holds, package data included), without touching the checkout."""
    egg = dest.parent / "egg"
    egg.mkdir(parents=True)
    subprocess.run(
        [
            *(PYTHON, "-c", "from setuptools import setup; setup()", "-q"),
            *("egg_info", "--egg-base", str(egg), "build_py", "--build-lib", str(dest)),
        ],
        cwd=CHECKOUT,
        check=True,
        capture_output=True,
        timeout=120,
    )


class ScratchRoot:
    """Runs the README's commands with every absolute path moved under `root`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.ran: list[str] = []

    def at(self, path: str) -> Path:
        return self.root / path.lstrip("/")

    def run(self, argv: list[str]) -> None:
        r = subprocess.run(argv, cwd=CHECKOUT, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, f"{argv}: {r.stdout}{r.stderr}"

    def step(self, command: str) -> None:
        """One README command, as it runs on the VPS but against the scratch root."""
        for pattern, action in self.ACTIONS:
            found = re.fullmatch(pattern, command)
            if found:
                action(self, *found.groups())
                self.ran.append(command)
                return
        raise AssertionError(f"the README has a step this test does not know how to run: {command!r}")

    def skip(self, *_: str) -> None:
        """A step that needs the machine itself (apt, a running systemd)."""

    def venv(self, prefix: str) -> None:
        lib = self.at(prefix) / "lib" / "site"
        build_package(lib)
        launcher = self.at(prefix) / "bin" / "mmctl"
        launcher.parent.mkdir(parents=True)
        launcher.write_text(f'#!/bin/sh\nPYTHONPATH={lib} exec {PYTHON} -m mmctl "$@"\n')
        launcher.chmod(0o755)

    def install(self, flags: str, source: str, dest: str) -> None:
        self.run(["install", *shlex.split(flags), source, str(self.at(dest))])

    def sysusers(self, conf: str) -> None:
        self.at("/etc").mkdir(exist_ok=True)
        self.run(["systemd-sysusers", f"--root={self.root}", str(self.at(conf))])

    def tmpfiles(self, conf: str) -> None:
        self.run(["systemd-tmpfiles", f"--root={self.root}", "--create", str(self.at(conf))])

    def mmctl(self, program: str, args: str) -> None:
        argv = [str(self.at(program)), *(str(self.at(a)) if a.startswith("/") else a for a in args.split())]
        self.run(argv)

    def link(self, target: str, name: str) -> None:
        self.at(name).parent.mkdir(parents=True, exist_ok=True)
        self.at(name).symlink_to(self.at(target))

    def enable(self, unit: str) -> None:
        self.run(["systemctl", f"--root={self.root}", "enable", unit])

    def add_to_group(self, group: str, user: str) -> None:
        """usermod -aG: the operator joins the group (in the scratch root's /etc/group)."""
        path = self.at("/etc/group")
        out = []
        for line in path.read_text().splitlines():
            if line.startswith(f"{group}:"):
                line += user if line.endswith(":") else f",{user}"
            out.append(line)
        path.write_text("\n".join(out) + "\n")

    ACTIONS: ClassVar[list[tuple[str, Callable[..., None]]]] = [
        (r"apt-get install -y python3-venv", skip),
        (r"python3 -m venv (\S+) && \S+/bin/pip install \.", venv),
        (r"install ((?:-D )?-m \d{4}) (\S+) (/\S+)", install),
        (r"systemd-sysusers (\S+)", sysusers),
        (r"systemd-tmpfiles --create (\S+)", tmpfiles),
        (r"(/opt/mmctl/bin/mmctl) (config (?:init|check) \S+)", mmctl),
        (r"ln -sf (\S+) (\S+)", link),
        (r"systemctl daemon-reload", skip),
        (r"systemctl enable --now (\S+)", enable),
        (r"usermod -aG (\S+) (\S+)", add_to_group),
    ]


needs_tools = pytest.mark.skipif(
    os.geteuid() != 0
    or any(shutil.which(t) is None for t in ("systemd-sysusers", "systemd-tmpfiles", "systemctl", "setpriv")),
    reason="needs root, systemd-sysusers, systemd-tmpfiles, systemctl and setpriv",
)


@pytest.fixture
def scratch() -> Iterator[ScratchRoot]:
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="mmroot"))
    root.chmod(0o755)
    for skeleton in ("etc/systemd/system", "usr/local/bin", "run", "var/lib", "var/log"):  # a fresh system's
        (root / skeleton).mkdir(parents=True)
    yield ScratchRoot(root)
    shutil.rmtree(root, ignore_errors=True)


def test_the_readme_steps_are_the_ones_this_test_runs() -> None:
    """Every command in the README's install block is one the scratch-root run knows (a new step must be
    taught to this test), and the block ends with the service enabled and an operator added."""
    steps = install_steps()
    for command in steps:
        assert any(re.fullmatch(p, command) for p, _ in ScratchRoot.ACTIONS), command
    assert "/opt/mmctl/bin/mmctl config init /etc/mmctl/config.toml" in steps
    assert steps.index("systemctl enable --now mmctl") > steps.index(
        "install -m 0644 systemd/mmctl.service /etc/systemd/system/mmctl.service"
    )


def uid_of(root: Path, name: str) -> tuple[int, int]:
    for line in (root / "etc/passwd").read_text().splitlines():
        fields = line.split(":")
        if fields[0] == name:
            return int(fields[2]), int(fields[3])
    raise AssertionError(f"no user {name}")


def unit_value(unit: Path, key: str) -> str:
    (value,) = [line.split("=", 1)[1] for line in unit.read_text().splitlines() if line.startswith(f"{key}=")]
    return value


@pytest.mark.slow
@needs_tools
def test_the_readme_steps_end_with_a_running_service_and_a_working_status(scratch: ScratchRoot) -> None:
    """Followed literally (against a scratch root), the steps create the user, the directories, a valid
    config from the packaged example, the enabled unit; its ExecStart, run as User= with systemd's
    directories, reaches READY=1 and a member of the mmctl group gets `mmctl status` and `health` exit 0."""
    for command in install_steps():
        scratch.step(command)
    root = scratch.root
    config = root / "etc/mmctl/config.toml"
    assert load_file(config).accounts  # valid, as the daemon reads it
    assert (root / "etc/systemd/system/multi-user.target.wants/mmctl.service").is_symlink()
    assert (root / "usr/share/doc/mmctl/README.md").is_file()  # the unit's Documentation=
    unit = root / "etc/systemd/system/mmctl.service"

    # systemd's part of `systemctl start`: the directories the unit names, owned by User=, and its variables
    uid, gid = uid_of(root, unit_value(unit, "User"))
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    exec_start = [
        str(root / a.lstrip("/")) if a.startswith("/") else a for a in unit_value(unit, "ExecStart").split()
    ]
    service_user = ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--"]
    probe = subprocess.run(
        [*service_user, exec_start[0], "--version"], capture_output=True, timeout=120, env=env
    )
    switch_users = probe.returncode == 0  # this machine's interpreter may be unreachable for other users
    if not switch_users:  # then the service runs as this user: the directories are its own
        uid, gid = os.getuid(), os.getgid()
    for key, var in (
        ("RuntimeDirectory", "RUNTIME_DIRECTORY"),
        ("StateDirectory", "STATE_DIRECTORY"),
        ("LogsDirectory", "LOGS_DIRECTORY"),
    ):
        base = {"RuntimeDirectory": "run", "StateDirectory": "var/lib", "LogsDirectory": "var/log"}[key]
        d = root / base / unit_value(unit, key)
        d.mkdir(parents=True)
        os.chown(d, uid, gid)
        d.chmod(int(unit_value(unit, f"{key}Mode"), 8))
        env[var] = str(d)
    notify = root / "run/notify.sock"
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind(str(notify))
    receiver.settimeout(60)
    os.chmod(notify, 0o666)
    env["NOTIFY_SOCKET"] = str(notify)
    daemon = subprocess.Popen(
        [*(service_user if switch_users else []), *exec_start],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd="/",
    )
    try:
        seen = ""
        receiver.settimeout(0.2)
        deadline = time.monotonic() + 60
        while "READY=1" not in seen:
            assert daemon.poll() is None, f"the service exited: {daemon.communicate()[0]}"
            assert time.monotonic() < deadline, "no READY=1 within 60 s"
            with contextlib.suppress(TimeoutError):
                seen += receiver.recv(4096).decode()
        sock = root / "run/mmctl/mmctl.sock"
        wait_until(sock.exists, what="socket")
        # the operator: a login with the mmctl group among its groups (`usermod -aG mmctl alice`)
        assert ",alice" in (root / "etc/group").read_text() or ":alice" in (root / "etc/group").read_text()
        operator = (
            ["setpriv", "--reuid=64123", "--regid=64123", f"--groups={gid}", "--"] if switch_users else []
        )
        cli_env = {"PATH": "/usr/bin:/bin", "MMCTL_SOCKET": str(sock)}
        for args in (["status"], ["health"]):
            r = subprocess.run(
                [*operator, str(root / "usr/local/bin/mmctl"), *args],
                env=cli_env,
                capture_output=True,
                text=True,
                timeout=120,
                cwd="/",
            )
            assert r.returncode == 0, f"{args}: {r.stdout}{r.stderr}"
        if not switch_users:
            return
        stranger = ["setpriv", "--reuid=64124", "--regid=64124", "--clear-groups", "--"]
        r = subprocess.run(
            [*stranger, str(root / "usr/local/bin/mmctl"), "status"],
            env=cli_env,
            capture_output=True,
            text=True,
            timeout=120,
            cwd="/",
        )
        assert r.returncode in (3, 4), r.stderr  # not in the group: refused
    finally:
        daemon.terminate()
        out, _ = daemon.communicate(timeout=120)
        receiver.close()
    assert daemon.returncode == 0, out
