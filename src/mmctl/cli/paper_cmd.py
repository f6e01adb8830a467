"""`mmctl paper reset ACCOUNT`: start a paper account afresh (refused by the daemon while bots run on it).

Register with `app.add_typer(paper_cmd.app, name="paper")` (or `paper_cmd.register(app)`).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from mmctl.cli.context import JsonFlag, YesFlag, call, confirm, globals_of
from mmctl.cli.output import fail
from mmctl.errors import ValidationError
from mmctl.rpc.protocol import PAPER_RESET

app = typer.Typer(
    help="Paper accounts (the built-in paper exchange).\n\n\b\nExample:\n  mmctl paper reset paper --yes",
    no_args_is_help=True,
)


def register(parent: typer.Typer) -> None:
    """Add the `paper` command group to `parent`."""
    parent.add_typer(app, name="paper")


@app.command()
def reset(
    ctx: typer.Context,
    account: Annotated[str, typer.Argument(help="The paper account.", show_default=False)],
    yes: YesFlag = False,
    json_flag: JsonFlag = False,
) -> None:
    """Start a paper account afresh: its orders cancelled, positions gone, wallet back to the configured
    balance, a new market from the seed. Its recorded fills, orders and income stay as history. Asks
    first on a terminal; needs --yes otherwise (exit 2 without).

    \b
    Example:
      mmctl paper reset paper --yes
    """
    out = globals_of(ctx).output(json_flag)
    if not account.strip():
        fail(ValidationError("give the paper account's name (e.g. mmctl paper reset paper)"), out)
    question = (
        f"Reset paper account {account!r}: cancel its orders, drop its positions and start a fresh wallet?"
    )
    confirm(out, question, yes, retry=f"mmctl paper reset {account} --yes", declined="nothing reset")
    result = call(ctx, PAPER_RESET, {"account": account}, json_flag=json_flag)
    if out.json:
        out.document(result)
        return
    out.fields(_pairs(result))


def _pairs(result: dict[str, Any]) -> list[tuple[str, Any]]:
    pairs: list[tuple[str, Any]] = [("account", result.get("account"))]
    if result.get("epoch") is not None:
        pairs += [
            ("epoch", result["epoch"]),
            ("balance", result.get("balance")),
            ("orders cancelled", result.get("cancelled")),
        ]
    if result.get("note"):
        pairs.append(("note", result["note"]))
    return pairs
