"""Many bots in one daemon: the manager, fleet-wide controls, the portfolio and the daemon-wide guards."""
