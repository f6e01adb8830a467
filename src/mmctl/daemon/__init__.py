"""The daemon process: composition root, socket and lock setup, RPC methods, systemd notify, logging."""
