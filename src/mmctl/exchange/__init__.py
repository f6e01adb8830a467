"""Venues: the `Exchange` port, shared market-rule arithmetic, and the adapters behind the port."""
