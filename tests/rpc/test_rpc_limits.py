"""Hostile clients against an in-process RPC server on a real socket: batch and reply caps, fairness,
first-request deadline, and connection admission per peer uid (issue 9 items 13 and 14)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from mmctl.rpc.registry import MethodTable
from mmctl.rpc.server import MAX_BATCH, RpcServer, current_peer

MIB = 1 << 20
OTHER_UIDS = (65534, 65533, 65532)  # ordinary users: 65534 is nobody, the others need no passwd entry

as_root = pytest.mark.skipif(os.geteuid() != 0, reason="connecting as other users needs root")


def make_table(ticks: list[int] | None = None) -> MethodTable:
    table = MethodTable()

    async def echo(text: str = "") -> str:
        return text

    async def big(size: int) -> str:
        return "x" * size

    async def whoami() -> int | None:
        peer = current_peer.get()
        return peer.uid if peer is not None else None

    async def tick() -> int:
        return ticks[0] if ticks is not None else 0

    table.add("echo", echo)
    table.add("big", big)
    table.add("whoami", whoami)
    table.add("tick", tick)
    return table


@contextlib.asynccontextmanager
async def serving(path: Path, table: MethodTable | None = None, **limits: Any) -> AsyncIterator[RpcServer]:
    """An RpcServer on `path`, open to every user (the directory too) so other uids can connect."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    os.chmod(path, 0o666)
    os.chmod(path.parent, 0o755)
    sock.setblocking(False)
    server = RpcServer(table or make_table(), **limits)
    await server.start(sock)
    try:
        yield server
    finally:
        await server.close(1.0)
        sock.close()


def req(method: str, params: Any = None, req_id: int = 1) -> dict[str, Any]:
    msg: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "id": req_id}
    if params is not None:
        msg["params"] = params
    return msg


def line(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode() + b"\n"


class Conn:
    """An asyncio client connection speaking raw lines."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, path: Path) -> Conn:
        r, w = await asyncio.open_unix_connection(str(path), limit=4 * MIB)
        return cls(r, w)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def recv(self) -> Any:
        raw = await asyncio.wait_for(self.reader.readline(), 10)
        assert raw, "connection closed without a reply"
        return json.loads(raw)

    async def ask(self, obj: Any) -> Any:
        await self.send(line(obj))
        return await self.recv()

    async def closed_by_server(self) -> bool:
        return await asyncio.wait_for(self.reader.read(1), 10) == b""

    def close(self) -> None:
        self.writer.close()


async def eventually(predicate: Callable[[], bool], what: str) -> None:
    """Poll a condition with a 10 s deadline (never a fixed sleep)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10.0
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


def run(case: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(case())  # type: ignore[arg-type]


# --- item 13: one request cannot make the daemon build a huge answer or hold the loop -----------------


def test_a_17000_call_batch_gets_one_short_invalid_request_error(short_tmp: Path) -> None:
    """A batch over the limit is refused as a whole with -32600 naming the limit, not executed."""
    path = short_tmp / "s.sock"
    batch = [req("echo", None, i) for i in range(17_000)]
    payload = line(batch)
    assert 0.5 * MIB < len(payload) < MIB

    async def case() -> None:
        async with serving(path):
            c = await Conn.open(path)
            reply = await c.ask(batch)
            assert isinstance(reply, dict)
            assert reply["error"]["code"] == -32600
            assert f"limit of {MAX_BATCH}" in reply["error"]["message"]
            assert "17000" in reply["error"]["message"]
            assert len(json.dumps(reply)) < 1000
            assert (await c.ask(req("echo", {"text": "next"})))["result"] == "next"
            c.close()

    run(case)


def test_a_batch_at_the_limit_is_answered_in_full(short_tmp: Path) -> None:
    """A batch of exactly `MAX_BATCH` calls gets every answer."""
    path = short_tmp / "s.sock"

    async def case() -> None:
        async with serving(path):
            c = await Conn.open(path)
            replies = await c.ask([req("echo", {"text": str(i)}, i) for i in range(MAX_BATCH)])
            assert sorted(r["result"] for r in replies) == sorted(str(i) for i in range(MAX_BATCH))
            c.close()

    run(case)


def test_a_reply_over_one_mib_becomes_an_error_and_the_connection_goes_on(short_tmp: Path) -> None:
    """A single reply that would exceed 1 MiB is replaced by an error naming the limit."""
    path = short_tmp / "s.sock"

    async def case() -> None:
        async with serving(path):
            c = await Conn.open(path)
            reply = await c.ask(req("big", {"size": 2 * MIB}, 9))
            assert reply["id"] == 9
            assert reply["error"]["code"] == -32603
            assert reply["error"]["data"]["limit_bytes"] == MIB
            assert "ask for less" in reply["error"]["message"]
            assert (await c.ask(req("big", {"size": 1000})))["result"] == "x" * 1000
            c.close()

    run(case)


def test_a_batch_whose_replies_add_up_over_one_mib_keeps_what_fits(short_tmp: Path) -> None:
    """In a batch, the answers that fit are kept and the ones past the limit become errors."""
    path = short_tmp / "s.sock"

    async def case() -> None:
        async with serving(path):
            c = await Conn.open(path)
            await c.send(line([req("big", {"size": 400_000}, i) for i in range(3)]))
            raw = await asyncio.wait_for(c.reader.readline(), 10)
            assert len(raw) <= MIB
            by_id = {r["id"]: r for r in json.loads(raw)}
            assert len(by_id[0]["result"]) == len(by_id[1]["result"]) == 400_000
            assert by_id[2]["error"]["code"] == -32603
            c.close()

    run(case)


def test_pipelined_requests_of_one_connection_let_the_loop_run_between_them(short_tmp: Path) -> None:
    """Every request of a pipelined burst sees the event loop advance since the previous one."""
    path = short_tmp / "s.sock"
    ticks = [0]

    async def ticker() -> None:
        while True:
            ticks[0] += 1
            await asyncio.sleep(0)

    async def case() -> None:
        async with serving(path, make_table(ticks)):
            task = asyncio.create_task(ticker())
            c = await Conn.open(path)
            await c.send(b"".join(line(req("tick", None, i)) for i in range(50)))
            seen = [(await c.recv())["result"] for _ in range(50)]
            task.cancel()
            c.close()
        assert all(b > a for a, b in itertools.pairwise(seen)), seen

    run(case)


def test_a_reply_that_needs_no_waiting_leaves_within_two_loop_turns_of_its_request(short_tmp: Path) -> None:
    """A request whose handler never waits is read, handled and answered in its connection's task: the
    reply is on the socket two loop turns after the request's bytes are, however much else is ready
    (Python 3.11's `wait_for` ran each step as a task of its own: five turns, each as long as the
    loop's busiest moment)."""
    path = short_tmp / "s.sock"

    async def case() -> None:
        async with serving(path):
            client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            client.connect(str(path))
            client.setblocking(False)
            loop = asyncio.get_running_loop()
            await loop.sock_sendall(client, line(req("echo", {"text": "warm"})))
            assert json.loads(await loop.sock_recv(client, 4096))["result"] == "warm"
            turns = 0
            client.send(line(req("echo", {"text": "now"}, 2)))
            while True:  # one turn of the loop per round: the reply is looked for without waiting
                turns += 1
                try:
                    reply = client.recv(4096, socket.MSG_DONTWAIT)
                    break
                except BlockingIOError:
                    await asyncio.sleep(0)
            client.close()
        assert json.loads(reply)["result"] == "now"
        # a look before the first turn, the turn that reads the bytes, the turn that answers, and a look
        # after it (this loop's round runs ahead of the server in each turn); wait_for took 9
        assert turns <= 4, turns

    run(case)


# --- item 14: idle connections never lock the operator out --------------------------------------------


def test_a_connection_that_sends_no_complete_request_is_dropped_quickly(short_tmp: Path) -> None:
    """Silent and half-sent connections are closed after the first-request deadline; a client that
    spoke stays connected under the long idle timeout."""
    path = short_tmp / "s.sock"

    async def case() -> None:
        async with serving(path, first_request_timeout_s=0.2, idle_timeout_s=300):
            talker = await Conn.open(path)
            assert (await talker.ask(req("echo", {"text": "hi"})))["result"] == "hi"
            silent = await Conn.open(path)
            half = await Conn.open(path)
            await half.send(b'{"jsonrpc":"2.0","meth')
            assert await silent.closed_by_server()
            assert await half.closed_by_server()
            assert (await talker.ask(req("echo", {"text": "still"})))["result"] == "still"
            talker.close()

    run(case)


def test_connections_beyond_the_cap_are_turned_away_until_one_closes(short_tmp: Path) -> None:
    """With no reserved users, the third connection on a cap of two gets -32000 and the next one after
    a close gets in."""
    path = short_tmp / "s.sock"

    async def case() -> None:
        async with serving(path, max_connections=2, privileged_uids=()) as server:
            held = [await Conn.open(path), await Conn.open(path)]
            await eventually(lambda: server.connections == 2, "two connections")
            extra = await Conn.open(path)
            reply = await extra.recv()
            assert reply["error"]["code"] == -32000
            assert "too many connections" in reply["error"]["message"]
            held.pop().close()
            await eventually(lambda: server.connections == 1, "a free slot")
            late = await Conn.open(path)
            assert (await late.ask(req("echo", {"text": "in"})))["result"] == "in"
            for c in [*held, late]:
                c.close()

    run(case)


def test_the_caller_of_a_request_is_known_to_its_handler(short_tmp: Path) -> None:
    """Handlers see the caller's uid (SO_PEERCRED) through `current_peer`."""
    path = short_tmp / "s.sock"

    async def case() -> None:
        async with serving(path):
            c = await Conn.open(path)
            assert (await c.ask(req("whoami")))["result"] == os.geteuid()
            c.close()

    run(case)


def _fork_as(uid: int, body: Callable[[], bytes], *, hold: bool) -> tuple[int, int, int]:
    """Fork a child that drops to `uid`, runs `body` (socket calls only: nothing to exec or import),
    writes its result line to a pipe and, with `hold`, keeps its sockets until the release pipe closes.
    Returns (pid, result fd, release fd)."""
    result_r, result_w = os.pipe()
    release_r, release_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        code = 1
        try:
            os.close(result_r)
            os.close(release_w)
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            os.write(result_w, body() + b"\n")
            if hold:
                os.read(release_r, 1)
            code = 0
        finally:
            os._exit(code)
    os.close(result_w)
    os.close(release_r)
    return pid, result_r, release_w


def _read_all(fd: int) -> bytes:
    with os.fdopen(fd, "rb") as f:
        return f.readline()


@contextlib.asynccontextmanager
async def held_by(uid: int, path: Path, n: int) -> AsyncIterator[None]:
    """`n` idle connections held by a process running as `uid`, for the duration of the block."""
    held: list[socket.socket] = []

    def body() -> bytes:
        for _ in range(n):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(str(path))
            held.append(s)
        return b"ready"

    pid, result, release = _fork_as(uid, body, hold=True)
    try:
        assert (await asyncio.to_thread(_read_all, result)).strip() == b"ready"
        yield
    finally:
        os.close(release)
        await asyncio.to_thread(os.waitpid, pid, 0)


async def ask_as(uid: int, path: Path) -> dict[str, Any]:
    """One `whoami` request from a process running as `uid`."""

    def body() -> bytes:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(10)
            s.connect(str(path))
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                # a refused connection is answered and closed at once: the answer is already buffered
                s.sendall(line(req("whoami")))
            return s.makefile("rb").readline().strip()

    pid, result, release = _fork_as(uid, body, hold=False)
    os.close(release)
    try:
        return json.loads(await asyncio.to_thread(_read_all, result))  # type: ignore[no-any-return]
    finally:
        await asyncio.to_thread(os.waitpid, pid, 0)


@as_root
def test_one_user_filling_the_server_with_idle_connections_locks_nobody_else_out(short_tmp: Path) -> None:
    """64 idle connections from one uid get 16 slots; the operator and another user are still answered."""
    path = short_tmp / "s.sock"
    attacker, other = OTHER_UIDS[0], OTHER_UIDS[1]

    async def case() -> None:
        async with (
            serving(path, max_connections=64, first_request_timeout_s=60) as server,
            held_by(attacker, path, 64),
        ):
            await eventually(lambda: server.connections + server.refused == 64, "every connection handled")
            assert server.connections == server.max_connections_per_uid == 16
            operator = await Conn.open(path)
            assert (await operator.ask(req("whoami")))["result"] == os.geteuid()
            operator.close()
            assert (await ask_as(other, path))["result"] == other
            late = await ask_as(attacker, path)
            assert late["error"]["code"] == -32000
            assert f"uid {attacker}" in late["error"]["message"]

    run(case)


@as_root
def test_reserved_slots_keep_room_for_root_when_ordinary_users_fill_the_server(short_tmp: Path) -> None:
    """When ordinary users hold every ordinary slot, a third user is refused but root still gets in,
    up to the reserved slots."""
    path = short_tmp / "s.sock"

    async def case() -> None:
        limits = {"max_connections": 4, "max_connections_per_uid": 2, "reserved_connections": 2}
        async with (
            serving(path, first_request_timeout_s=60, **limits) as server,
            held_by(OTHER_UIDS[0], path, 2),
            held_by(OTHER_UIDS[1], path, 2),
        ):
            await eventually(lambda: server.connections == 4, "ordinary slots full")
            assert (await ask_as(OTHER_UIDS[2], path))["error"]["code"] == -32000
            root_conns = [await Conn.open(path) for _ in range(2)]
            for c in root_conns:
                assert (await c.ask(req("whoami")))["result"] == 0
            over = await Conn.open(path)
            assert (await over.recv())["error"]["code"] == -32000
            for c in [*root_conns, over]:
                c.close()

    run(case)


def test_a_method_with_a_longer_floor_outlives_the_request_timeout(short_tmp: Path) -> None:
    """A method registered with `min_timeout_s` (as `bot.start` is) answers after the daemon's
    `request_timeout_s`, while an ordinary method is cut at it with the timeout error."""
    path = short_tmp / "s.sock"
    table = make_table()

    async def slow() -> str:
        await asyncio.sleep(0.3)
        return "done"

    table.add("slow_start", slow, min_timeout_s=5.0)
    table.add("slow_read", slow)

    async def case() -> None:
        async with serving(path, table, request_timeout_s=0.1):
            conn = await Conn.open(path)
            assert (await conn.ask(req("slow_start")))["result"] == "done"
            error = (await conn.ask(req("slow_read", req_id=2)))["error"]
            assert error["message"] == "slow_read did not finish within 0.1 s"
            conn.close()

    run(case)
