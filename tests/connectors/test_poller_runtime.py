"""The polling side of the runtime on a real nats-server: checkpoints, kill and resume, lease, errors."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import msgspec
import pytest
from nats.aio.client import Client as NATS

from connectors.checkpoint import Checkpoints, Lease, LeaseLost
from connectors.errors import PermanentError, TransientError
from connectors.testkit import harness
from connectors.testkit.harness import stored_messages
from schemas import decode_envelope, subjects
from tests.connectors.providers import feed_provider
from tests.connectors.sample_channels import FeedCursor, feed

ROOT = Path(__file__).resolve().parents[2]


def _config(tmp_path: Path, nats_url: str, settings: dict[str, object], instance: str = "feed-1") -> Path:
    lines = [f'[nats]\nurl = "{nats_url}"\n', f'[kanal]\ndata_dir = "{tmp_path / "var"}"\n',
             f"[connectors.{instance}]", 'channel = "feed"', 'poll_interval = "200ms"']
    lines += [f"{k} = {msgspec.json.encode(v).decode()}" for k, v in settings.items()]
    path = tmp_path / "kanal.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


async def _spawn(config: Path, *args: str) -> asyncio.subprocess.Process:
    env = {**os.environ, "KANAL_EXTRA_CHANNELS": "tests.connectors.sample_channels:feed", "PYTHONPATH": str(ROOT),
           "KANAL_LOG__FORMAT": "json"}
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "kanal", "connector", "run", "feed-1", "--config", str(config), *args,
        env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)


async def _external_ids(nc: NATS, instance: str = "feed-1") -> list[str]:
    return [decode_envelope(m).external_id for m in await stored_messages(nc, subjects.inbound("feed", instance))]


async def test_pass_publishes_then_checkpoints(provisioned: NATS, nats_url: str) -> None:
    async with feed_provider(items=25) as provider, harness(feed, provider.settings, nats_url) as h:
        checkpoints = await Checkpoints.open(h.nc.jetstream(), h.instance.name)
        count = await h.instance.connector.run_pass(checkpoints, asyncio.Event())
        assert count == 25
        assert await checkpoints.load(FeedCursor) == FeedCursor(after=25)
        assert provider.requests == [0, 10, 20, 25]
        assert [e.external_id for e in await h.published()] == [f"m{n}" for n in range(1, 26)]


async def test_provider_errors_are_classified(provisioned: NATS, nats_url: str) -> None:
    async with feed_provider(items=3) as provider, harness(feed, provider.settings, nats_url) as h:
        checkpoints = await Checkpoints.open(h.nc.jetstream(), h.instance.name)
        for status, error in ((503, TransientError), (429, TransientError), (401, PermanentError)):
            provider.fail(status)
            with pytest.raises(error):
                await h.instance.connector.run_pass(checkpoints, asyncio.Event())
        assert await checkpoints.load(FeedCursor) is None, "a failed pass must not move the checkpoint"


@pytest.mark.slow
async def test_killed_mid_page_resumes_without_gap_or_repeat(provisioned: NATS, nats_url: str, tmp_path: Path) -> None:
    async with feed_provider(items=60) as provider:
        provider.delay = 0.3  # slow pages, so the kill lands mid-run
        config = _config(tmp_path, nats_url, provider.settings)
        proc = await _spawn(config)
        while len(provider.requests) < 3:
            await asyncio.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        before = await _external_ids(provisioned)
        assert 0 < len(before) < 60, "the kill must land mid-way"
        checkpoint = await (await Checkpoints.open(provisioned.jetstream(), "feed-1")).load(FeedCursor)
        requests_before = len(provider.requests)
        provider.delay = 0
        proc = await _spawn(config, "--once")
        assert await asyncio.wait_for(proc.wait(), 60) == 0
        after = await _external_ids(provisioned)
        assert after == [f"m{n}" for n in range(1, 61)], "nothing skipped, nothing repeated, in order"
        resumed_at = provider.requests[requests_before]
        assert resumed_at == (checkpoint.after if checkpoint else 0), "the restart reads from the checkpoint"


async def test_second_replica_waits_for_the_lease(provisioned: NATS) -> None:
    js = provisioned.jetstream()
    first, second = await Lease.open(js, "feed-x"), await Lease.open(js, "feed-x")
    assert await first.try_acquire()
    assert not await second.try_acquire()
    await first.renew()
    await first.release()
    assert await second.try_acquire()
    with pytest.raises(Exception, match="lost"):
        await first.renew()


@pytest.mark.slow
async def test_lease_lapses_when_the_holder_dies(provisioned: NATS) -> None:
    js = provisioned.jetstream()
    holder, standby = await Lease.open(js, "feed-y"), await Lease.open(js, "feed-y")
    holder.ttl = standby.ttl = 15
    assert await holder.try_acquire()
    stop = asyncio.Event()
    # the holder "dies": it never renews; the standby takes over once the bucket TTL expires the key
    took_over = await asyncio.wait_for(standby.acquire(stop), 30)
    assert took_over


async def test_sigterm_stops_a_poller_cleanly(provisioned: NATS, nats_url: str, tmp_path: Path) -> None:
    async with feed_provider(items=5) as provider:
        proc = await _spawn(_config(tmp_path, nats_url, provider.settings))
        while len(provider.requests) < 2:
            await asyncio.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 20) == 0
        assert await _external_ids(provisioned) == [f"m{n}" for n in range(1, 6)]


async def test_revoked_token_stops_with_exit_78(provisioned: NATS, nats_url: str, tmp_path: Path) -> None:
    async with feed_provider(items=5) as provider:
        settings = {**provider.settings, "token": "revoked-token-000"}
        proc = await _spawn(_config(tmp_path, nats_url, settings))
        assert await asyncio.wait_for(proc.wait(), 30) == 78


async def test_a_replica_that_lost_the_lease_cannot_move_the_checkpoint_back(provisioned: NATS) -> None:
    js = provisioned.jetstream()
    stale, active = await Checkpoints.open(js, "feed-z"), await Checkpoints.open(js, "feed-z")
    assert await stale.load(FeedCursor) is None
    assert await active.load(FeedCursor) is None
    await active.save(FeedCursor(after=40))
    await active.save(FeedCursor(after=50))
    with pytest.raises(LeaseLost, match="moved by another replica"):
        await stale.save(FeedCursor(after=10))
    assert await (await Checkpoints.open(js, "feed-z")).load(FeedCursor) == FeedCursor(after=50)


async def test_once_against_a_held_lease_names_the_holder_and_exits_75(provisioned: NATS, nats_url: str,
                                                                       tmp_path: Path) -> None:
    """Issue #19: `--once` while `kanal up` polled the same instance waited silently forever."""
    async with feed_provider(items=3) as provider:
        config = _config(tmp_path, nats_url, provider.settings)
        holder = await Lease.open(provisioned.jetstream(), "feed-1")
        assert await holder.try_acquire()
        keeping = asyncio.Event()
        keeper = asyncio.create_task(holder.keep(keeping))  # held longer than the wait, as a running replica does
        try:
            env = {**os.environ, "KANAL_EXTRA_CHANNELS": "tests.connectors.sample_channels:feed",
                   "PYTHONPATH": str(ROOT), "KANAL_LOG__FORMAT": "json"}
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "kanal", "connector", "run", "feed-1", "--config", str(config), "--once",
                "--lease-wait", "1", env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            _out, err = await asyncio.wait_for(proc.communicate(), 60)
        finally:
            keeping.set()
            await keeper
            await holder.release()
        assert proc.returncode == 75, err.decode()[-2000:]
        assert holder.holder.decode() in err.decode()  # who holds it
        assert b"lease_held" in err and b"another replica held the lease of feed-1 for 1s" in err
        assert provider.requests == []  # it never polled
        assert await _external_ids(provisioned) == []


async def test_a_poller_that_loses_its_lease_stands_by_and_polls_again(provisioned: NATS, nats_url: str,
                                                                       tmp_path: Path) -> None:
    """Found by bench/chaos.py: a NATS outage longer than the lease TTL made the poller exit 1."""
    from structlog.testing import capture_logs

    from connectors.runtime import Instance
    from kanal.testing import make_config

    async with feed_provider(items=2) as provider:
        section = {"channel": "feed", "poll_interval": "100ms", **provider.settings}
        instance = Instance(make_config(nats_url, tmp_path, connectors={"feed-1": section}), "feed-1", feed)
        running = asyncio.create_task(instance.run())
        try:
            while await _external_ids(provisioned) != ["m1", "m2"]:
                assert not running.done()
                await asyncio.sleep(0.05)
            leases = await provisioned.jetstream().key_value(subjects.KV_LEASES)
            await leases.purge("feed-1")  # its lease is gone: another replica takes it
            other = await Lease.open(provisioned.jetstream(), "feed-1")
            assert await other.try_acquire()
            with capture_logs() as logs:
                while not any(e["event"] == "lease_lost" for e in logs):  # its next renewal finds it taken
                    assert not running.done(), "the poller exited instead of standing by"
                    await asyncio.sleep(0.05)
            provider.add(2)
            await asyncio.sleep(1.0)  # several poll intervals: a standby does not poll
            assert await _external_ids(provisioned) == ["m1", "m2"] and not running.done()
            await other.release()  # the other replica stops: this one takes over and polls again
            while await _external_ids(provisioned) != ["m1", "m2", "m3", "m4"]:
                assert not running.done()
                await asyncio.sleep(0.05)
        finally:
            instance.stop.set()
            assert await asyncio.wait_for(running, 30) == 0
