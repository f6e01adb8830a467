"""Shared test rig: paper accounts on a manual clock, a bot manager over them, and one settle policy.

Import as `from tests.support.rig import ...` (pytest's `pythonpath = ["."]` puts the checkout root on
`sys.path`). Nothing here is collected as a test.
"""
