"""The contract checks, as base test classes a channel's test module subclasses."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

import msgspec
import pytest

from connectors.base import Connector
from connectors.checkpoint import Checkpoints
from connectors.errors import BadPayload, PermanentError, TransientError
from connectors.poller import PollingConnector
from connectors.runtime import split_settings
from connectors.spec import ChannelSpec, NormaliseContext, Outcome
from connectors.testkit.harness import harness
from kanal import log
from schemas import Envelope, decode_envelope, encode, subjects

Expect = Literal["envelopes", "ignored", "rejected", "bad_payload"]


@dataclass
class Case:
    """One real provider payload and what it must become."""

    name: str
    raw: bytes
    account: str
    expect: Expect = "envelopes"
    count: int | None = None
    check: Callable[[Outcome], None] | None = None
    media_type: str = "application/json"
    tags: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return self.name


def _context(spec: ChannelSpec, case: Case) -> NormaliseContext:
    return NormaliseContext(channel=spec.id, instance="contract-test", account=case.account,
                            received_at=datetime(2026, 11, 24, 3, 0, tzinfo=UTC))


class ChannelContract:
    """Checks for any channel. Set `spec`, `settings` (its config section without `channel`), `cases`."""

    spec: ClassVar[ChannelSpec]
    settings: ClassVar[dict[str, Any]] = {}
    cases: ClassVar[list[Case]] = []
    secrets: ClassVar[list[str]] = []

    def outcome(self, case: Case) -> Outcome:
        """Run the pure normaliser on one case."""
        return self.spec.load_normaliser()(case.raw, _context(self.spec, case))

    def test_cases_are_declared(self) -> None:
        assert self.cases, "a channel's contract needs real payload cases"
        assert any(c.expect == "envelopes" for c in self.cases), "at least one case must give envelopes"

    def test_cases_normalise_as_declared(self) -> None:
        for case in self.cases:
            if case.expect == "bad_payload":
                with pytest.raises(BadPayload):
                    self.outcome(case)
                continue
            outcome = self.outcome(case)
            got = {"envelopes": len(outcome.envelopes), "ignored": len(outcome.ignored),
                   "rejected": len(outcome.rejected)}
            assert got[case.expect] >= 1, f"case {case}: expected {case.expect}, got {got}"
            if case.count is not None:
                assert got[case.expect] == case.count, f"case {case}: expected {case.count} {case.expect}, got {got}"
            for env in outcome.envelopes:
                assert env.channel == self.spec.id, f"case {case}: channel {env.channel!r}"
                assert env.account == case.account or env.account, f"case {case}: empty account"
            if case.check is not None:
                case.check(outcome)

    def test_envelopes_are_valid_and_round_trip(self) -> None:
        for case in self.cases:
            if case.expect != "envelopes":
                continue
            for env in self.outcome(case).envelopes:
                assert decode_envelope(encode(env)) == env, f"case {case}: round trip changed the envelope"

    def test_same_payload_gives_same_ids(self) -> None:
        for case in self.cases:
            if case.expect != "envelopes":
                continue
            first = [e.id for e in self.outcome(case).envelopes]
            second = [e.id for e in self.outcome(case).envelopes]
            assert first == second, f"case {case}: ids differ between two runs"
            assert len(set(first)) == len(first), f"case {case}: two events share an id"

    def test_settings_never_show_secrets(self) -> None:
        common, settings = split_settings(self.spec, {"channel": self.spec.id, **self.settings}, "contract-test")
        shown = repr(settings) + str(settings) + repr(common)
        for secret in self.secrets:
            assert secret not in shown, "a secret appears in the settings' repr"

    def test_logs_never_show_secrets_or_contacts(self) -> None:
        out = io.StringIO()
        log.configure("debug", "json", stream=out)
        log.register_secrets(self.secrets)
        try:
            logger = log.get("contract")
            for case in self.cases:
                if case.expect != "envelopes":
                    continue
                for env in self.outcome(case).envelopes:
                    logger.info("probe", envelope_id=env.id, reporter=msgspec.to_builtins(env.reporter),
                                settings=repr(self.settings), contact=env.reporter.contact)
                    for secret in self.secrets:
                        logger.info("probe_secret", detail=f"token={secret}")
        finally:
            log.configure("debug", "json")
        text = out.getvalue()
        for secret in self.secrets:
            assert secret not in text, "a secret value reached the logs"
        for case in self.cases:
            if case.expect != "envelopes":
                continue
            for env in self.outcome(case).envelopes:
                contact = env.reporter.contact
                if contact and len(contact) > 6:
                    assert contact not in text, f"case {case}: the reporter's contact reached the logs"

    async def test_publishes_on_its_inbound_subject(self, kanal_nats_url: str) -> None:
        async with harness(self.spec, self.settings, kanal_nats_url) as h:
            connector: Connector[Any] = h.instance.connector
            expected: list[str] = []
            for case in self.cases:
                if case.expect != "envelopes":
                    continue
                accepted = await connector.take(case.raw, case.account, case.media_type)
                assert set(accepted.deliveries) == {"acked"}
                expected.extend(e.id for e in accepted.envelopes)
                again = await connector.take(case.raw, case.account, case.media_type)
                assert [e.id for e in again.envelopes] == [e.id for e in accepted.envelopes]
            published = await h.published()
            assert [e.id for e in published] == list(dict.fromkeys(expected)), "each envelope exactly once"
            raw = await h.messages(f"{subjects.RAW_PREFIX}.>")
            assert len(raw) >= len(set(expected)), "raw payloads are kept on KANAL_RAW"

    async def test_bad_payloads_are_dead_lettered(self, kanal_nats_url: str) -> None:
        bad = [c for c in self.cases if c.expect in ("bad_payload", "rejected")]
        if not bad:
            pytest.skip("no bad payload cases declared")
        async with harness(self.spec, self.settings, kanal_nats_url) as h:
            before = len(await h.messages(subjects.dlq("connector")))
            for case in bad:
                with contextlib.suppress(BadPayload):  # dead-lettered by take itself
                    await h.instance.connector.take(case.raw, case.account, case.media_type)
            letters = await h.messages(subjects.dlq("connector"))
            assert len(letters) - before >= len(bad)
            for letter in letters[before:]:
                body = json.loads(letter)
                assert body["reason"] and body["detail"], "a dead letter must say why"


class PollerContract(ChannelContract):
    """Adds checkpoint and error checks for polling channels.

    Subclasses provide a `provider` fixture: a running fake of the provider holding `cases`' items, with
    `add(n)` to publish more items, `fail(status)` to answer every request with that HTTP status, and
    `settings` (the config section pointing at it).
    """

    @pytest.fixture
    def provider(self) -> Any:
        raise NotImplementedError("define a `provider` fixture in the channel's test class")

    async def _pass(self, h: Any) -> int:
        connector = h.instance.connector
        assert isinstance(connector, PollingConnector)
        import asyncio

        checkpoints = await Checkpoints.open(h.nc.jetstream(), h.instance.name)
        return await connector.run_pass(checkpoints, asyncio.Event())

    async def test_resumes_from_checkpoint_without_gap_or_repeat(self, kanal_nats_url: str, provider: Any) -> None:
        async with harness(self.spec, provider.settings, kanal_nats_url) as h:
            first = await self._pass(h)
            assert first >= 1
            published = await h.published()
            assert len(published) == first
            assert await self._pass(h) == 0, "a second pass with nothing new must publish nothing"
            provider.add(2)
            third = await self._pass(h)
            assert third >= 2
            ids = [e.id for e in await h.published()]
            assert len(ids) == len(set(ids)) == first + third

    async def test_transient_and_permanent_errors_are_told_apart(self, kanal_nats_url: str, provider: Any) -> None:
        async with harness(self.spec, provider.settings, kanal_nats_url) as h:
            provider.fail(503)
            with pytest.raises(TransientError):
                await self._pass(h)
            provider.fail(429)
            with pytest.raises(TransientError):
                await self._pass(h)
            provider.fail(401)
            with pytest.raises(PermanentError):
                await self._pass(h)
            provider.fail(None)
            assert await self._pass(h) >= 1


__all__ = ["Case", "ChannelContract", "Envelope", "PollerContract"]
