"""JSON-RPC 2.0 over a Unix stream socket: the protocol shared by both ends, the server, the clients."""
