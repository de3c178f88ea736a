"""Places benchmark: how well the gazetteer rule reads places as people write them, and what it costs.

Runs deploy/rules/jakarta.toml's gazetteer rule on labelled Indonesian sentences written for the project
(bench/data/places_heldout.tsv, never used to build router/data; places_build.tsv, what the data and rules
were tuned on; places_typos_dev.tsv, misspelt places the typo matching was tuned on, written by
bench/typos_dev.py; or any file in the same format given by path) and prints, per set: accuracy on sentences that
name a place (routed to the expected kelurahan, or kecamatan/kota where only that is named), how often a
place-free sentence is routed by the gazetteer, and the gazetteer's time per envelope. The same rule without
landmarks, short forms and typo matching ("names only") is printed beside it. Targets on a held-out set:
>= 95% and <= 1%.

A set file has one sentence per line, `expected<TAB>text` (`.tsv`) or `expected,text` (`.csv`, quoted as
CSV; an `expected,text` header row is skipped); lines starting with `#` are comments. `expected` is
`kel:<kelurahan>`, `kec:<kecamatan>` or `kota:<kota>` as named in ../shared/data/jakarta/wilayah.csv, or `-`
for a sentence that names no place (it must not be routed by the gazetteer).
Run: `.venv/bin/python bench/places.py [--set heldout|build|both|NAME|PATH ...] [--misses]`.
Needs ../shared/data/jakarta.
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
NAMED = ("heldout", "build")


def set_path(name: str) -> Path:
    """`heldout2` -> bench/data/places_heldout2.tsv when that file exists; anything else is a path."""
    named = DATA / f"places_{name}.tsv"
    return named if "/" not in name and named.exists() else Path(name)


def labelled(name: str) -> list[tuple[str, str]]:
    """(expected, text) rows of a set: a name (`heldout` = bench/data/places_heldout.tsv) or a file's path."""
    path = set_path(name)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as err:
        sys.exit(f"cannot read set {path}: {err.strerror}")
    if path.suffix == ".csv":
        cells = [row for row in csv.reader(lines) if row and not row[0].lstrip().startswith("#")]
        if cells and [c.strip().lower() for c in cells[0][:2]] == ["expected", "text"]:
            cells = cells[1:]
    else:
        cells = [line.split("\t", 1) for line in lines if line.strip() and not line.startswith("#")]
    rows = []
    for n, row in enumerate(cells, 1):
        if len(row) < 2 or not row[1].strip():
            sys.exit(f"{path}: row {n} {row!r} is not expected<separator>text")
        rows.append((row[0].strip(), ",".join(row[1:]).strip() if path.suffix == ".csv" else row[1].strip()))
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
    unknown = sorted({e for e, _ in rows if e != "-" and e not in want})
    if unknown:
        sys.exit(f"{name}: label(s) not in the code list: {', '.join(unknown)} (kel:/kec:/kota:<name> or -)")
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
    label = name if "/" not in name else Path(name).name
    cost = statistics.median(rounds)
    return (f"{label:8s} placed {right}/{placed} = {100 * right / max(placed, 1):5.1f}%   place-free routed "
            f"{false_routed}/{free} = {100 * false_routed / max(free, 1):4.1f}%   gazetteer {cost:5.1f} µs"
            f"/envelope CPU (median of 7)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", nargs="+", default=["both"], metavar="SET",
                        help="heldout, build, both (default), another name (heldout2 = bench/data/places_heldout2.tsv) "
                             "or the path of a set file (format above)")
    parser.add_argument("--misses", action="store_true", help="print each miss and false route with its reason")
    args = parser.parse_args()
    wilayah = (RULES.parent / "../../../shared/data/jakarta/wilayah.csv").resolve()
    if not wilayah.exists():
        sys.exit(f"{wilayah} not found: ../shared/data/jakarta must be beside this clone")
    want = queues(wilayah)
    sets = [name for arg in args.set for name in (NAMED if arg == "both" else (arg,))]
    for label, names_only in (("names only (no landmarks, short forms, typos)", True), ("places", False)):
        rules = ruleset(names_only)
        print(f"{label}:")
        for name in sets:
            print("  " + run(name, rules, want, args.misses and not names_only))


if __name__ == "__main__":
    main()
