"""The router's recent-writes overlay stays bounded and cheap however long it runs."""

from __future__ import annotations

from router.service import RecentWrites


def test_recent_writes_keep_the_newest_within_the_cap() -> None:
    recent = RecentWrites(ttl=60.0, cap=3)
    for i in range(5):
        recent.put(f"k{i}", b"%d" % i)
    recent.put("k2", b"again")  # a rewrite moves the key to the newest end
    recent.put("k5", b"5")
    view: dict[str, bytes] = {}
    recent.overlay(view, [f"k{i}" for i in range(6)])
    assert view == {"k4": b"4", "k2": b"again", "k5": b"5"}


def test_recent_writes_expire_by_age() -> None:
    recent = RecentWrites(ttl=-1.0)  # everything is already older than the ttl
    recent.put("a", b"1")
    recent.put("b", b"2")
    view: dict[str, bytes] = {}  # expired entries are dropped when the next batch looks
    recent.overlay(view, ["a", "b"])
    assert view == {} and len(recent.values) == 0
