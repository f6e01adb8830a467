"""`mmctl strategies [show NAME]`: the strategies this installation knows (built-in and plugins), what
each reads and its parameters. Answered locally, without the daemon: the registry is the package's (a
daemon started from the same installation knows the same strategies)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from mmctl.cli.context import JsonFlag, globals_of
from mmctl.cli.output import Output, fail
from mmctl.errors import ValidationError

if TYPE_CHECKING:
    from mmctl.strategies.base import Strategy

app = typer.Typer(
    help="List the strategies and their parameters.\n\n\b\nExamples:\n  mmctl strategies\n"
    "  mmctl strategies show avellaneda_stoikov",
    invoke_without_command=True,
)


def register(parent: typer.Typer) -> None:
    """Add the `strategies` command group to `parent`."""
    parent.add_typer(app, name="strategies")


@app.callback()
def strategies(ctx: typer.Context, json_flag: JsonFlag = False) -> None:
    """List the strategies: name, built-in or plugin, the market data each reads, what it does; plugins
    that could not be loaded are listed with the reason (they never stop the daemon)."""
    if ctx.invoked_subcommand is not None:
        return
    from mmctl.strategies import registry

    out = globals_of(ctx).output(json_flag)
    reg = registry()
    rows = [_summary(name, s, name in reg.plugins) for name, s in sorted(reg.strategies.items())]
    broken = [{"name": b.name, "entry_point": b.value, "reason": b.reason} for b in reg.broken]
    if out.json:
        out.document({"strategies": rows, "broken_plugins": broken})
        return
    out.table(
        ("name", "source", "data", "description"),
        [(r["name"], r["source"], r["data"], r["description"]) for r in rows],
    )
    for b in broken:
        typer.echo(
            f"mmctl: warning: plugin {b['name']} ({b['entry_point']}) not loaded: {b['reason']}", err=True
        )


@app.command("show")
def show(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The strategy.", show_default=False)],
    json_flag: JsonFlag = False,
) -> None:
    """A strategy's parameters: type, default, bounds, unit and help. Set them with `mmctl create NAME
    --strategy S --set key=value` or `mmctl backtest --strategy S --set key=value`.

    \b
    Example:
      mmctl strategies show market_maker
    """
    from mmctl.strategies import get_strategy, registry
    from mmctl.strategies.params import describe

    out = globals_of(ctx).output(json_flag)
    try:
        strategy = get_strategy(name)
    except ValidationError as e:
        fail(e, out)
    params = [
        {
            "name": p.name,
            "type": p.type,
            "default": p.default,
            "min": p.min,
            "max": p.max,
            "unit": p.unit,
            "doc": p.doc,
        }
        for p in describe(strategy.params_cls)
    ]
    doc = {**_summary(name, strategy, name in registry().plugins), "params": params}
    if out.json:
        out.document(doc)
        return
    _print_detail(out, doc)


def _summary(name: str, strategy: Strategy[Any], plugin: bool) -> dict[str, Any]:
    needs = strategy.needs(strategy.params_cls())
    data = ["book"]
    if needs.candle_interval_s:
        data.append(f"candles {needs.candle_interval_s}s")
    elif needs.wants_trades:
        data.append("trades")
    return {
        "name": name,
        "source": "plugin" if plugin else "built-in",
        "data": "+".join(data),
        "description": strategy.description,
    }


def _print_detail(out: Output, doc: dict[str, Any]) -> None:
    if out.tty:
        typer.echo(f"{doc['name']} ({doc['source']}): {doc['description']}")
        typer.echo(f"reads: {doc['data']}")
        typer.echo("")
    out.table(
        ("param", "type", "default", "min", "max", "unit", "help"),
        [
            (p["name"], p["type"], p["default"], p["min"], p["max"], p["unit"], p["doc"])
            for p in doc["params"]
        ],
    )
