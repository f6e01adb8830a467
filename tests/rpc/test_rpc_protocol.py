"""JSON-RPC 2.0 over the daemon's real socket: spec error codes, batches, notifications, hostile clients."""

from __future__ import annotations

import contextlib
import json
import os
import socket
from pathlib import Path

import pytest
from tests.support.daemon import DaemonProc, readline, rpc


def send_raw(path: Path, data: bytes, timeout: float = 10) -> bytes:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(str(path))
        s.sendall(data)
        return readline(s)


def alive(d: DaemonProc) -> bool:
    return rpc(d.socket, "daemon.version")["result"]["api"] == 1


def test_version_reports_package_and_api_version(shared_daemon: DaemonProc) -> None:
    """`daemon.version` answers as JSON-RPC 2.0 under the request's id with the API version 1 and the package
    version."""
    reply = rpc(shared_daemon.socket, "daemon.version", req_id=7)
    assert reply["jsonrpc"] == "2.0"
    assert reply["id"] == 7
    assert reply["result"]["api"] == 1
    assert reply["result"]["version"]


def test_parse_error_is_32700_with_null_id(shared_daemon: DaemonProc) -> None:
    """A line that is not valid JSON is answered with a -32700 parse error and a null id."""
    reply = json.loads(send_raw(shared_daemon.socket, b'{"jsonrpc": "2.0", "method": \n'))
    assert reply["error"]["code"] == -32700
    assert reply["id"] is None


@pytest.mark.parametrize(
    "msg",
    [
        {"jsonrpc": "1.0", "method": "daemon.version", "id": 1},
        {"method": "daemon.version", "id": 1},
        {"jsonrpc": "2.0", "method": 5, "id": 1},
        {"jsonrpc": "2.0", "method": "daemon.version", "id": {"a": 1}},
        [],
        "just a string",
        42,
    ],
)
def test_invalid_request_is_32600(shared_daemon: DaemonProc, msg: object) -> None:
    """Each well-formed JSON value that is not a valid request object is answered with -32600."""
    reply = json.loads(send_raw(shared_daemon.socket, json.dumps(msg).encode() + b"\n"))
    assert reply["error"]["code"] == -32600


def test_unknown_method_is_32601(shared_daemon: DaemonProc) -> None:
    """An unknown method is answered with -32601 naming the method."""
    reply = rpc(shared_daemon.socket, "daemon.nope")
    assert reply["error"]["code"] == -32601
    assert "daemon.nope" in reply["error"]["message"]


def test_unknown_param_is_32602_naming_the_field(shared_daemon: DaemonProc) -> None:
    """A parameter the method does not take is answered with -32602 naming the field in `data`."""
    reply = rpc(shared_daemon.socket, "daemon.version", {"verbose": True})
    assert reply["error"]["code"] == -32602
    assert reply["error"]["data"]["field"] == "verbose"


def test_params_of_wrong_kind_are_32602(shared_daemon: DaemonProc) -> None:
    """Params that are neither an object nor an array are answered with -32602."""
    reply = rpc(shared_daemon.socket, "daemon.health", "oops")
    assert reply["error"]["code"] == -32602


def test_methods_lists_the_table_with_parameters(shared_daemon: DaemonProc) -> None:
    """`daemon.methods` lists every method, the daemon's own included, each with its parameters and doc."""
    methods = rpc(shared_daemon.socket, "daemon.methods")["result"]
    names = {m["name"] for m in methods}
    assert {"daemon.version", "daemon.health", "daemon.methods"} <= names
    assert all("params" in m and "doc" in m for m in methods)


def test_batch_answers_each_request_and_skips_notifications(shared_daemon: DaemonProc) -> None:
    """A batch gets one reply per request (errors included, an invalid member under a null id) and none for
    its notification."""
    batch = [
        {"jsonrpc": "2.0", "method": "daemon.version", "id": 1},
        {"jsonrpc": "2.0", "method": "daemon.version"},
        {"jsonrpc": "2.0", "method": "nope", "id": 2},
        {"bad": True},
    ]
    replies = json.loads(send_raw(shared_daemon.socket, json.dumps(batch).encode() + b"\n"))
    by_id = {r["id"]: r for r in replies}
    assert len(replies) == 3
    assert "result" in by_id[1]
    assert by_id[2]["error"]["code"] == -32601
    assert by_id[None]["error"]["code"] == -32600


def test_notification_gets_no_reply_and_the_next_request_does(shared_daemon: DaemonProc) -> None:
    """A notification and an all-notification batch get no reply, so the next reply on the connection is the
    following request's."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(str(shared_daemon.socket))
        s.sendall(b'{"jsonrpc":"2.0","method":"daemon.version"}\n')
        s.sendall(b'[{"jsonrpc":"2.0","method":"daemon.version"}]\n')
        s.sendall(b'{"jsonrpc":"2.0","method":"daemon.health","id":"h"}\n')
        reply = json.loads(readline(s))
    assert reply["id"] == "h"
    assert reply["result"]["status"] in ("ok", "failing")


def test_several_requests_on_one_connection_are_answered_in_order(shared_daemon: DaemonProc) -> None:
    """Five requests pipelined on one connection are answered in the order they were sent."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(str(shared_daemon.socket))
        s.sendall(
            b"".join(f'{{"jsonrpc":"2.0","method":"daemon.version","id":{i}}}\n'.encode() for i in range(5))
        )
        replies = s.makefile("rb")
        ids = [json.loads(replies.readline())["id"] for _ in range(5)]
    assert ids == [0, 1, 2, 3, 4]


def test_two_mib_line_is_refused_and_the_daemon_answers_the_next_client(shared_daemon: DaemonProc) -> None:
    """A 2 MiB request line is refused (-32600 or a hang-up) and the daemon keeps answering other clients."""
    big = b'{"jsonrpc":"2.0","method":"daemon.version","id":1,"pad":"' + b"x" * (2 << 20) + b'"}\n'
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(str(shared_daemon.socket))
        # the daemon may hang up before reading everything: that is the point
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            s.sendall(big)
        reply = readline(s)
    if reply:
        assert json.loads(reply)["error"]["code"] == -32600
    assert alive(shared_daemon)


def test_random_binary_garbage_costs_only_that_connection(shared_daemon: DaemonProc) -> None:
    """64 KiB of random bytes get a -32700 on that connection and the daemon stays responsive."""
    garbage = os.urandom(64 * 1024).replace(b"\n", b"") + b"\n"
    reply = send_raw(shared_daemon.socket, garbage)
    assert json.loads(reply)["error"]["code"] == -32700
    assert alive(shared_daemon)


def test_deeply_nested_json_is_a_parse_error_not_a_crash(shared_daemon: DaemonProc) -> None:
    """100,000 nested brackets are answered with a parse or invalid-request error, not a crash of the
    daemon."""
    reply = send_raw(shared_daemon.socket, b"[" * 100_000 + b"\n")
    assert json.loads(reply)["error"]["code"] in (-32700, -32600)
    assert alive(shared_daemon)


def test_half_a_message_then_disconnect_leaves_the_daemon_responsive(shared_daemon: DaemonProc) -> None:
    """A client hanging up in the middle of a request leaves the daemon responsive."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(str(shared_daemon.socket))
        s.sendall(b'{"jsonrpc":"2.0","meth')
    assert alive(shared_daemon)


def test_silent_client_does_not_block_others(shared_daemon: DaemonProc) -> None:
    """Connections that never send anything do not keep another client from being answered."""
    silent = [socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) for _ in range(5)]
    try:
        for s in silent:
            s.connect(str(shared_daemon.socket))
        assert alive(shared_daemon)
    finally:
        for s in silent:
            s.close()


def test_idle_connection_is_closed_after_the_idle_timeout(daemon_factory) -> None:  # type: ignore[no-untyped-def]
    """A connection that stays silent past `idle_timeout_s` is closed by the daemon, which keeps serving."""
    d = daemon_factory("max_connections = 3\nidle_timeout_s = 0.3\n").start()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(str(d.socket))
        assert s.recv(1) == b""  # the daemon hung up on the idle client
    assert alive(d)
