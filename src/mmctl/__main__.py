"""`python -m mmctl`: the same entry point as the `mmctl` console script."""

from mmctl.cli.app import main

main()
