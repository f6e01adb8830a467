"""A throw-away site directory holding a distribution with `mmctl.strategies` entry points: one usable
plugin strategy (`mirror`, market_maker's quotes under another name) and broken ones, for the registry,
CLI and daemon tests. Put the directory on `sys.path` or `PYTHONPATH` to install it."""

from __future__ import annotations

from pathlib import Path

GOOD = """
from dataclasses import dataclass
from typing import ClassVar

from mmctl.strategies.market_maker import MarketMaker
from mmctl.strategies.market_maker_params import MarketMakerParams


@dataclass(frozen=True, slots=True)
class MirrorParams(MarketMakerParams):
    strategy: ClassVar[str] = "mirror"


class Mirror(MarketMaker):
    name = "mirror"
    description = "market_maker's quotes, registered by a plugin"
    params_cls = MirrorParams
"""

ENTRY_POINTS = """[mmctl.strategies]
mirror = mmctl_test_plugin:Mirror
exploding = mmctl_test_plugin_missing:Nothing
misnamed = mmctl_test_plugin:Mirror
market_maker = mmctl_test_plugin:Mirror
"""


def make_plugin_site(root: Path) -> Path:
    """Write the site directory under `root` and return it."""
    site = root / "site"
    (site / "mmctl_test_plugin").mkdir(parents=True)
    (site / "mmctl_test_plugin" / "__init__.py").write_text(GOOD)
    info = site / "mmctl_test_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: mmctl-test-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    return site
