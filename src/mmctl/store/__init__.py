"""Persistence: the `DefinitionStore` port and its adapters (TOML files per bot now; SQLite later)."""
