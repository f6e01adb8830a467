"""Backtests: the bots' strategy, risk and order code over market data on simulated time."""
