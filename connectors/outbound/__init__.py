"""The reporter's loop: acknowledgements and status updates back on the channel the citizen used.

`compose` (pure) turns routed items and status changes into OutboundMessages with templates and the rules that
respect the reporter; `notifier` is the service that applies them and publishes to `kanal.out.<channel>.<instance>`;
`sender` runs inside each connector instance and delivers them exactly once at most, recording every outcome.
"""
