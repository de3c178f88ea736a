"""The contract checks, as base test classes a channel's test module subclasses."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

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


F = TypeVar("F", bound=Callable[..., Any])


def over(*expect: Expect) -> Callable[[F], F]:
    """Run the decorated check once per case whose `expect` is one of `expect` (each its own test id)."""

    def mark(fn: F) -> F:
        fn._kit_cases = expect  # type: ignore[attr-defined]
        return fn

    return mark


class Kit:
    """What every contract class shares: the channel, its settings, its secrets, and one test id per case."""

    spec: ClassVar[ChannelSpec]
    settings: ClassVar[dict[str, Any]] = {}
    cases: ClassVar[list[Case]] = []
    secrets: ClassVar[list[str]] = []
    testdata: ClassVar[Path | None] = None
    instance: ClassVar[str | None] = None  # the instance's name in webhook cases (None: a fresh one each time)

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        """Parametrize `case` (payload cases) and `http_case` (testdata/*.json requests) by name."""
        if "case" in metafunc.fixturenames:
            wanted = getattr(metafunc.function, "_kit_cases", None)
            chosen = [c for c in self.cases if wanted is None or c.expect in wanted]
            metafunc.parametrize("case", chosen, ids=[c.name for c in chosen])
        if "http_case" in metafunc.fixturenames:
            from connectors.testkit.webhook import load_cases

            found = load_cases(self.testdata) if self.testdata is not None else []
            metafunc.parametrize("http_case", found, ids=[name for name, _ in found])

    def test_settings_never_show_secrets(self) -> None:
        common, settings = split_settings(self.spec, {"channel": self.spec.id, **self.settings}, "contract-test")
        shown = repr(settings) + str(settings) + repr(common)
        for secret in self.secrets:
            assert secret not in shown, "a secret appears in the settings' repr"


class ChannelContract(Kit):
    """Checks for any channel from its payload cases. Set `spec`, `settings` (its config section without
    `channel`), `secrets` and `cases`; each check runs once per case, as its own test id."""

    def outcome(self, case: Case) -> Outcome:
        """Run the pure normaliser on one case."""
        return self.spec.load_normaliser()(case.raw, _context(self.spec, case))

    def test_cases_are_declared(self) -> None:
        assert self.cases, "a channel's contract needs real payload cases"
        assert any(c.expect == "envelopes" for c in self.cases), "at least one case must give envelopes"
        names = [c.name for c in self.cases]
        assert len(names) == len(set(names)), "each case needs its own name (it is the test id)"

    def test_normalises_as_declared(self, case: Case) -> None:
        if case.expect == "bad_payload":
            with pytest.raises(BadPayload):
                self.outcome(case)
            return
        outcome = self.outcome(case)
        got = {"envelopes": len(outcome.envelopes), "ignored": len(outcome.ignored),
               "rejected": len(outcome.rejected)}
        assert got[case.expect] >= 1, f"expected {case.expect}, got {got}"
        if case.count is not None:
            assert got[case.expect] == case.count, f"expected {case.count} {case.expect}, got {got}"
        accounts = {case.account, *case.account.split(",")}  # a connector serving several accounts
        for env in outcome.envelopes:
            assert env.channel == self.spec.id, f"channel {env.channel!r}"
            assert env.account in accounts, f"account {env.account!r} is not one this case was delivered to"
        if case.check is not None:
            case.check(outcome)

    @over("envelopes")
    def test_envelopes_are_valid_and_round_trip(self, case: Case) -> None:
        for env in self.outcome(case).envelopes:
            assert decode_envelope(encode(env)) == env, "the round trip changed the envelope"

    @over("envelopes")
    def test_same_payload_gives_same_ids(self, case: Case) -> None:
        first = [e.id for e in self.outcome(case).envelopes]
        second = [e.id for e in self.outcome(case).envelopes]
        assert first == second, "ids differ between two runs"
        assert len(set(first)) == len(first), "two events share an id"

    @over("envelopes")
    async def test_publishes_once_on_its_inbound_subject(self, case: Case, kanal_nats_url: str) -> None:
        async with harness(self.spec, self.settings, kanal_nats_url) as h:
            connector: Connector[Any] = h.instance.connector
            accepted = await connector.take(case.raw, case.account, case.media_type)
            assert set(accepted.deliveries) == {"acked"}
            again = await connector.take(case.raw, case.account, case.media_type)
            assert [e.id for e in again.envelopes] == [e.id for e in accepted.envelopes]
            published = await h.published()
            expected = list(dict.fromkeys(e.id for e in accepted.envelopes))
            assert [e.id for e in published] == expected, "each envelope exactly once"
            raw = await h.messages(f"{subjects.RAW_PREFIX}.>")
            assert len(raw) >= len(expected), "raw payloads are kept on KANAL_RAW"

    @over("envelopes")
    async def test_intake_logs_keep_secrets_and_contacts_out(self, case: Case, kanal_nats_url: str) -> None:
        """The logs of a real intake (the instance's own secret registration, no help from the test)."""
        out = io.StringIO()
        log.configure("debug", "json", stream=out)
        try:
            async with harness(self.spec, self.settings, kanal_nats_url) as h:
                accepted = await h.instance.connector.take(case.raw, case.account, case.media_type)
        finally:
            log.configure("debug", "json")
        text = out.getvalue()
        assert "envelope_accepted" in text, "the intake wrote no log lines to check"
        for secret in self.secrets:
            assert secret not in text, "a configured secret reached the logs"
        for env in accepted.envelopes:
            contact = env.reporter.contact
            if contact and len(contact) > 6:
                assert contact not in text, "the reporter's contact reached the logs"

    @over("bad_payload", "rejected")
    async def test_bad_payloads_are_dead_lettered(self, case: Case, kanal_nats_url: str) -> None:
        async with harness(self.spec, self.settings, kanal_nats_url) as h:
            with contextlib.suppress(BadPayload):  # dead-lettered by take itself
                await h.instance.connector.take(case.raw, case.account, case.media_type)
            letters = await h.dead_letters()
            expected = len(self.outcome(case).rejected) if case.expect == "rejected" else 1
            assert len(letters) == expected, f"{len(letters)} dead letters, expected {expected}"
            for letter in letters:
                assert letter.reason and letter.detail, "a dead letter must say why"


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


__all__ = ["Case", "ChannelContract", "Envelope", "Kit", "PollerContract", "over"]
