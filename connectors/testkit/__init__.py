"""The contract kit: the checks every channel, built-in or third-party, must pass, from real payload cases.

Use it from a test module:

    from connectors.testkit import Case, ChannelContract

    class TestMyChannel(ChannelContract):
        spec = my_channel.spec
        settings = {"channel": "mine", "token": "tok-123456"}
        secrets = ["tok-123456"]
        cases = [Case("text", raw=b'{...}', account="acct", count=1)]

The pytest plugin `kanal` (installed with this package) provides the real nats-server the kit publishes to.
"""

from connectors.testkit.harness import Harness, harness
from connectors.testkit.outage import Served, served
from connectors.testkit.suite import Case, ChannelContract, PollerContract

__all__ = ["Case", "ChannelContract", "Harness", "PollerContract", "Served", "harness", "served"]
