"""mmctl: market-making bots on Binance USD-M perpetual futures, run by a daemon and driven by a CLI."""

__version__ = "0.1.0"
API_VERSION = 1
"""Integer version of the daemon's RPC API; the CLI refuses to talk to a daemon with another one."""
