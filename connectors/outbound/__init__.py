"""The connectors' side of the reporter's loop: `sender` runs inside each connector instance and delivers
`kanal.out.<channel>.<instance>` at most once, recording every outcome (kanal.sends).

What to say and when is the notifier's business (the top-level `notifier` package); the two meet only on the
subject and in the send records.
"""
