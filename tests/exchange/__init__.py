"""Tests of the Exchange port, the paper exchange and the failure-injecting wrapper."""
