"""Connectors: the runtime every channel stands on, and one folder per built-in channel.

A channel is a `ChannelSpec` registered under the `kanal.connectors` entry-point group, a pure normaliser
(raw bytes -> Outcome of envelopes), and a WebhookConnector or PollingConnector subclass for its I/O.
Plugins import what they need from `kanal.plugin` (see docs/plugins.md); the modules here are internal.
"""
