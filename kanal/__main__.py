"""`python -m kanal` runs the same command line as `kanal`."""

from kanal.cli import main

main()
