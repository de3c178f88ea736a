"""The notifier: answers reporters (acknowledgements and status updates) on the channel they wrote from.

`compose` (pure) turns routed items and status changes into OutboundMessages with templates and the rules that
respect the reporter; `service` applies them and publishes to `kanal.out.<channel>.<instance>`, where each
connector's sender loop (connectors.outbound.sender) delivers them. `kanal notifier run` starts it.
"""
