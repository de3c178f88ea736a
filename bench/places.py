"""Places benchmark: how well the gazetteer rule reads places as people write them, and what it costs.

Runs deploy/rules/jakarta.toml's gazetteer rule on labelled Indonesian sentences written for the project
(bench/data/places_heldout.tsv, never used to build router/data; places_build.tsv, what the data and rules
were tuned on) and prints, per set: accuracy on sentences that name a place (routed to the expected
kelurahan, or kecamatan/kota where only that is named), how often a place-free sentence is routed by the
gazetteer, and the gazetteer's time per envelope. The same rule without landmarks, short forms and typo
matching ("names only") is printed beside it. Targets on the held-out set: >= 95% and <= 1%.
Run: `.venv/bin/python bench/places.py [--set heldout|build|both] [--misses]`. Needs ../shared/data/jakarta.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import time
import tomllib
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from router.gazetteer import envelope_text, plain  # noqa: E402
from router.rules import RuleSet  # noqa: E402
from schemas import Envelope, Reporter, envelope_id  # noqa: E402

RULES = ROOT / "deploy/rules/jakarta.toml"
DATA = ROOT / "bench/data"


def labelled(name: str) -> list[tuple[str, str]]:
    """(expected, text) rows of bench/data/places_<name>.tsv."""
    rows = []
    for line in (DATA / f"places_{name}.tsv").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            expected, text = line.split("\t", 1)
            rows.append((expected.strip(), text.strip()))
    return rows


def queues(wilayah: Path) -> dict[str, str]:
    """'kel:Gambir' -> 'kelurahan.3171011001' (and kec:, kota:) from the code list."""
    prefix = {"kelurahan": "kel", "kecamatan": "kec", "kota": "kota"}
    out: dict[str, str] = {}
    with wilayah.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["level"] in prefix:
                out[f"{prefix[row['level']]}:{row['nama']}"] = f"{row['level']}.{row['kode']}"
    return out


def envelope(i: int, text: str) -> Envelope:
    now = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)
    return Envelope(id=envelope_id("twilio", "+628111272206", f"p-{i}"), channel="twilio", instance="twilio-wa",
                    account="+628111272206", external_id=f"p-{i}", kind="direct_message", created_at=now,
                    received_at=now, reporter=Reporter(contact="+6281200000000"), visibility="private", text=text)


def ruleset(names_only: bool) -> RuleSet:
    data = tomllib.loads(RULES.read_text(encoding="utf-8"))
    if names_only:
        for rule in data["rule"]:
            if rule["type"] == "gazetteer":
                rule.update(landmarks="", abbreviations="", fuzzy=False)
    return RuleSet.from_dict(data, RULES.parent, str(RULES))


def run(name: str, rules: RuleSet, want: dict[str, str], misses: bool) -> str:
    rows = labelled(name)
    envs = [envelope(i, text) for i, (_, text) in enumerate(rows)]
    texts = [plain(envelope_text(env.subject, env.text)) for env in envs]
    right = placed = false_routed = free = 0
    for (expected, text), env, flat in zip(rows, envs, texts, strict=True):
        decision = rules.decide(env, flat)
        by_gaz = decision.rule_type == "gazetteer"
        if expected == "-":
            free += 1
            false_routed += by_gaz
            if by_gaz and misses:
                print(f"  false route: {text!r} -> {decision.queue}: {decision.reason}")
            continue
        placed += 1
        ok = decision.queue == want[expected]
        right += ok
        if not ok and misses:
            print(f"  miss: {text!r}: want {expected} ({want[expected]}), got {decision.queue}: {decision.reason}")
    rule = next(r for r in rules.rules if r.__struct_config__.tag == "gazetteer")
    reader = rules._gaz[rule.id]  # the rule's gazetteer: time the lookup alone, as the router calls it
    rounds = []
    for _ in range(7):
        start = time.process_time()
        for flat in texts:
            reader.read("", flat.split())
        rounds.append((time.process_time() - start) / len(texts) * 1e6)
    return (f"{name:8s} placed {right}/{placed} = {100 * right / placed:5.1f}%   place-free routed "
            f"{false_routed}/{free} = {100 * false_routed / free:4.1f}%   gazetteer {statistics.median(rounds):5.1f} µs"
            f"/envelope CPU (median of 7)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", choices=["heldout", "build", "both"], default="both")
    parser.add_argument("--misses", action="store_true", help="print each miss and false route with its reason")
    args = parser.parse_args()
    wilayah = (RULES.parent / "../../../shared/data/jakarta/wilayah.csv").resolve()
    if not wilayah.exists():
        sys.exit(f"{wilayah} not found: ../shared/data/jakarta must be beside this clone")
    want = queues(wilayah)
    sets = ["heldout", "build"] if args.set == "both" else [args.set]
    for label, names_only in (("names only (no landmarks, short forms, typos)", True), ("places", False)):
        rules = ruleset(names_only)
        print(f"{label}:")
        for name in sets:
            print("  " + run(name, rules, want, args.misses and not names_only))


if __name__ == "__main__":
    main()
