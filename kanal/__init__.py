"""Kanal's process glue: configuration, logging, the bus, the supervisor and the `kanal` command."""

__version__ = "0.1.0"
