"""The strategy registry: built-ins, plugins from the `mmctl.strategies` entry point group, broken
plugins reported by name, and `mmctl strategies [show]` on the real CLI."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.strategies.plugin_site import make_plugin_site
from tests.support.daemon import DaemonProc, run_cli

from mmctl.errors import ValidationError
from mmctl.strategies import get_strategy
from mmctl.strategies.registry import reload


@pytest.fixture
def plugin_site(tmp_path: Path) -> Iterator[Path]:
    site = make_plugin_site(tmp_path)
    sys.path.insert(0, str(site))
    try:
        yield site
    finally:
        sys.path.remove(str(site))
        sys.modules.pop("mmctl_test_plugin", None)
        reload()


def test_a_plugin_strategy_registers_and_broken_ones_are_named_with_their_reason(plugin_site: Path) -> None:
    """A usable entry point joins the registry; a failing import, a name mismatch and a clash with a
    built-in are each left out and listed by name with a one-line reason."""
    reg = reload()
    assert "mirror" in reg.strategies
    assert reg.plugins == frozenset({"mirror"})
    assert get_strategy("mirror").params_cls.strategy == "mirror"
    assert type(reg.strategies["market_maker"]).__module__ == "mmctl.strategies.market_maker"
    reasons = {b.name: b.reason for b in reg.broken}
    assert set(reasons) == {"exploding", "misnamed", "market_maker"}
    assert reasons["exploding"].startswith("cannot be loaded: ModuleNotFoundError")
    assert "'mirror', not the entry point's 'misnamed'" in reasons["misnamed"]
    assert reasons["market_maker"] == "a built-in strategy has this name"
    with pytest.raises(ValidationError, match=r"broken plugin .*cannot be loaded"):
        get_strategy("exploding")


def test_strategies_command_lists_plugins_and_warns_about_broken_ones(tmp_path: Path) -> None:
    """`mmctl strategies --json` lists built-ins and plugins with their source, and the broken plugins
    with their reasons; the table form warns about them on stderr and still exits 0."""
    site = make_plugin_site(tmp_path)
    env = {"PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    r = run_cli("strategies", "--json", env=env)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    sources = {s["name"]: s["source"] for s in doc["strategies"]}
    assert sources["market_maker"] == "built-in"
    assert sources["mirror"] == "plugin"
    assert {b["name"] for b in doc["broken_plugins"]} == {"exploding", "misnamed", "market_maker"}
    r = run_cli("strategies", env=env)
    assert r.returncode == 0
    assert "mirror" in r.stdout
    assert "plugin exploding (mmctl_test_plugin_missing:Nothing) not loaded" in r.stderr


def test_strategies_show_lists_each_parameter_with_type_bounds_unit_and_help() -> None:
    """`mmctl strategies show market_maker --json` carries every parameter with its type, default,
    bounds, unit and help; an unknown name is one error line and exit 2."""
    r = run_cli("strategies", "show", "market_maker", "--json")
    assert r.returncode == 0, r.stderr
    params = {p["name"]: p for p in json.loads(r.stdout)["params"]}
    assert params["spread_bps"] == {
        "name": "spread_bps",
        "type": "decimal",
        "default": "10",
        "min": "0",
        "max": "5000",
        "unit": "bps",
        "doc": "distance of the first level from the reference price",
    }
    assert params["order_size"]["unit"] == "base"
    assert params["max_loss"]["unit"] == "quote"
    r = run_cli("strategies", "show", "nope")
    assert r.returncode == 2
    [line] = r.stderr.strip().splitlines()
    assert line.startswith("mmctl: error: unknown strategy 'nope' (known: ")
    assert "market_maker" in line


def test_a_broken_plugin_never_stops_the_daemon_and_health_names_it(
    daemon_factory: Callable[..., DaemonProc], tmp_path: Path
) -> None:
    """A daemon whose environment holds broken strategy plugins starts, serves bots of a plugin strategy,
    and fails the `strategies` health check naming each broken plugin and why."""
    site = make_plugin_site(tmp_path)
    d = daemon_factory().start(extra_env={"PYTHONPATH": os.pathsep.join([str(site), *sys.path])})
    r = d.cli("create", "m1", "--account", "paper", "--symbol", "BTCUSDT", "--strategy", "mirror", "--json")
    assert r.returncode == 0, r.stderr
    r = d.cli("health", "--json")
    checks = {c["name"]: c for c in json.loads(r.stdout)["checks"]}
    assert checks["strategies"]["ok"] is False
    detail = checks["strategies"]["detail"]
    assert "plugins: mirror" in detail
    assert "plugin exploding (mmctl_test_plugin_missing:Nothing)" in detail
