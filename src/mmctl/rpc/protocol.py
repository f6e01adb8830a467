"""JSON-RPC 2.0 wire format shared by the daemon and the CLI: one compact JSON object per line.

Messages are UTF-8, at most `MAX_MESSAGE_BYTES` including the newline. Money travels as strings,
times as ISO 8601 UTC strings or integer milliseconds; `to_jsonable` converts core types.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any

JSONRPC = "2.0"
MAX_MESSAGE_BYTES = 1 << 20

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603


def to_jsonable(value: Any) -> Any:
    """JSON's `default` hook: Decimal → str, Enum → value, datetime → ISO, dataclass → dict."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, default=to_jsonable)


def encode(obj: Any) -> bytes:
    """One message: compact JSON + newline."""
    return dumps(obj).encode("utf-8") + b"\n"


def request(
    method: str, params: dict[str, Any] | list[Any] | None, req_id: int | str | None
) -> dict[str, Any]:
    msg: dict[str, Any] = {"jsonrpc": JSONRPC, "method": method}
    if params is not None:
        msg["params"] = params
    if req_id is not None:
        msg["id"] = req_id
    return msg


def error_object(code: int, message: str, data: Any = None) -> dict[str, Any]:
    err: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        err["data"] = data
    return err


def error_response(req_id: Any, code: int, message: str, data: Any = None) -> dict[str, Any]:
    return {"jsonrpc": JSONRPC, "id": req_id, "error": error_object(code, message, data)}


def result_response(req_id: Any, result: Any) -> dict[str, Any]:
    return {"jsonrpc": JSONRPC, "id": req_id, "result": result}
