"""The method-name constants of `mmctl.rpc.protocol` are the daemon's method table; the module is cheap."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from tests.support.daemon import DaemonProc, rpc

from mmctl.rpc import protocol

ISO_EXAMPLE = "2026-12-01T05:59:01.123Z"


@pytest.mark.slow
def test_method_constants_match_the_daemons_method_table(shared_daemon: DaemonProc) -> None:
    """`daemon.methods` lists exactly the names in `protocol.METHOD_NAMES`, no more, no fewer."""
    served = {m["name"] for m in rpc(shared_daemon.socket, protocol.DAEMON_METHODS)["result"]}
    assert served == set(protocol.METHOD_NAMES)


def test_every_method_constant_is_in_method_names() -> None:
    """Each upper-case `namespace.verb` constant of the module is listed in `METHOD_NAMES`."""
    constants = {
        value
        for name, value in vars(protocol).items()
        if name.isupper() and isinstance(value, str) and re.fullmatch(r"[a-z]+\.[a-z]+", value)
    }
    assert constants == set(protocol.METHOD_NAMES)


def test_protocol_imports_only_the_standard_library() -> None:
    """Importing the protocol module loads no third-party package and no other mmctl module."""
    code = (
        "import sys; before = set(sys.modules); import mmctl.rpc.protocol; "
        "print('\\n'.join(m for m in set(sys.modules) - before "
        "if m.split('.')[0] not in sys.stdlib_module_names))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(r.stdout.split())
    assert loaded == {"mmctl", "mmctl.rpc", "mmctl.rpc.protocol"}


@pytest.mark.slow
def test_account_summary_takes_and_returns_iso_times(shared_daemon: DaemonProc) -> None:
    """`account.summary` reads `since` as ISO 8601 and answers with `since` in ISO 8601 UTC, no `_ms`."""
    reply = rpc(
        shared_daemon.socket,
        protocol.ACCOUNT_SUMMARY,
        {"account": "paper", "since": "2026-12-01T00:59:01.123-05:00"},
    )
    doc = reply["result"]
    assert doc["since"] == ISO_EXAMPLE
    assert not [k for k in doc if k.endswith("_ms")]
    bad = rpc(shared_daemon.socket, protocol.ACCOUNT_SUMMARY, {"account": "paper", "since": "noon"})
    assert bad["error"]["code"] == protocol.INVALID_PARAMS
    assert bad["error"]["data"]["field"] == "since"
