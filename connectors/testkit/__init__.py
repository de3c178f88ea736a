"""The contract kit: the checks every channel, built-in or third-party, must pass, from real payload cases
(`ChannelContract`) and, for webhooks, whole HTTP requests in `testdata/*.json` (`WebhookContract`).

Plugins import it as `kanal.plugin.testing`. Use it from a test module:

    from kanal.plugin.testing import Case, ChannelContract, SignedRequest, WebhookContract

    class TestMyChannel(ChannelContract, WebhookContract):
        spec = my_channel.spec
        settings = {"account": "acct", "token": "tok-123456"}
        secrets = ["tok-123456"]
        cases = [Case("text", raw=b'{...}', account="acct", count=1)]
        testdata = Path(__file__).parent / "testdata"

        def sign(self, request: SignedRequest) -> dict[str, str]:
            return {"x-signature": signature("tok-123456", request.body)}

The pytest plugin `kanal` (installed with this package) provides the real nats-server the kit publishes to.
"""

from connectors.testkit.harness import Harness, harness
from connectors.testkit.outage import Served, served
from connectors.testkit.suite import Case, ChannelContract, PollerContract
from connectors.testkit.webhook import HttpCase, SignedRequest, WebhookContract

__all__ = ["Case", "ChannelContract", "Harness", "HttpCase", "PollerContract", "Served", "SignedRequest",
           "WebhookContract", "harness", "served"]
