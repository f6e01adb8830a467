"""Binance USDⓈ-M error bodies: `{"code": -xxxx, "msg": "..."}` with the HTTP status Binance uses."""

from __future__ import annotations

from typing import Any

MESSAGES: dict[int, str] = {
    -1000: "An unknown error occured while processing the request.",
    -1001: "Internal error; unable to process your request. Please try again.",
    -1003: "Too many requests; current limit is {limit} requests per minute. Please use the websocket for "
    "live updates to avoid polling the API.",
    -1006: "An unexpected response was received from the message bus. Execution status unknown.",
    -1007: "Timeout waiting for response from backend server. Send status unknown; execution status unknown.",
    -1008: "Server is currently overloaded with other requests. Please try again in a few minutes.",
    -1015: "Too many new orders; current limit is {limit} orders per {interval}.",
    -1021: "Timestamp for this request is outside of the recvWindow.",
    -1022: "Signature for this request is not valid.",
    -1100: "Illegal characters found in parameter '{name}'; legal range is '{legal}'.",
    -1102: "Mandatory parameter '{name}' was not sent, was empty/null, or malformed.",
    -1106: "Parameter '{name}' sent when not required.",
    -1111: "Precision is over the maximum defined for this asset.",
    -1115: "Invalid timeInForce.",
    -1116: "Invalid orderType.",
    -1117: "Invalid side.",
    -1121: "Invalid symbol.",
    -1125: "This listenKey does not exist.",
    -1130: "Data sent for parameter '{name}' is not valid.",
    -1131: "recvWindow must be less than 60000",
    -2011: "Unknown order sent.",
    -2013: "Order does not exist.",
    -2014: "API-key format invalid.",
    -2015: "Invalid API-key, IP, or permissions for action.",
    -2019: "Margin is insufficient.",
    -2021: "Order would immediately trigger.",
    -2022: "ReduceOnly Order is rejected.",
    -2025: "Reach max open order limit.",
    -4003: "Quantity less than or equal to zero.",
    -4004: "Quantity less than min quantity.",
    -4005: "Quantity greater than max quantity.",
    -4013: "Price less than min price.",
    -4014: "Price not increased by tick size.",
    -4016: "Limit price can't be higher than {bound}.",
    -4023: "Quantity not increased by step size.",
    -4024: "Limit price can't be lower than {bound}.",
    -4028: "Leverage {leverage} is not valid",
    -4045: "Reach max stop order limit.",
    -4046: "No need to change margin type.",
    -4047: "Margin type cannot be changed if there exists open orders.",
    -4048: "Margin type cannot be changed if there exists position.",
    -4059: "No need to change position side.",
    -4061: "Order's position side does not match user's setting.",
    -4067: "Position side cannot be changed if there exists open orders.",
    -4068: "Position side cannot be changed if there exists position.",
    -4082: "Invalid number of batch place orders.",
    -4116: "ClientOrderId is duplicated.",
    -4120: "Order type not supported for this endpoint. Please use the Algo Order API endpoints instead.",
    -4164: "Order's notional must be no smaller than {notional} (unless you choose reduce only).",
    -5021: "Due to the order could not be filled immediately, the FOK order has been rejected. The order "
    "will not be recorded in the order history",
    -5022: "Due to the order could not be executed as maker, the Post Only order will be rejected. The order "
    "will not be recorded in the order history",
    -5026: "Exceed maximum modify order limit.",
    -5027: "No need to modify the order.",
}

STATUS_FOR_CODE: dict[int, int] = {
    -1000: 500,
    -1001: 503,
    -1003: 429,
    -1006: 503,
    -1007: 503,
    -1008: 503,
    -1015: 429,
    -2014: 401,
    -2015: 401,
}
"""HTTP status per code; every other code is a 400."""


class BinanceError(Exception):
    """A request Binance refuses: rendered as its JSON error body with `status`."""

    def __init__(
        self,
        code: int,
        msg: str | None = None,
        status: int | None = None,
        retry_after: int | None = None,
        **fmt: object,
    ) -> None:
        text = msg if msg is not None else MESSAGES.get(code, "Unknown error.").format(**fmt)
        super().__init__(f"{code} {text}")
        self.code = code
        self.msg = text
        self.status = status if status is not None else STATUS_FOR_CODE.get(code, 400)
        self.retry_after = retry_after

    def body(self) -> dict[str, Any]:
        """The JSON body Binance answers with."""
        return {"code": self.code, "msg": self.msg}
