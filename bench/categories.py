"""Category classifier: accuracy and a confusion table on the held-out test set, and classifications/s.

    .venv/bin/python bench/categories.py [--file deploy/rules/categories.toml] [--set bench/data/categories-test.tsv]

The test set (bench/data/categories-test.tsv) was written before the cues and never used to build them; the
cues come from bench/data/categories-build.tsv (docs/categories.md). Speed: every test sentence classified
over and over in one process (one core), after a warm-up pass.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from router.categories import Classifier  # noqa: E402


def labelled(path: Path) -> list[tuple[str, str]]:
    """(category, text) pairs of a labelled TSV file; `#` lines are comments."""
    out = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        category, sep, text = line.partition("\t")
        if not sep or not text.strip():
            raise SystemExit(f"{path}:{number}: expected <category><TAB><text>")
        out.append((category, text))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=ROOT / "deploy/rules/categories.toml")
    parser.add_argument("--set", type=Path, default=ROOT / "bench/data/categories-test.tsv")
    parser.add_argument("--seconds", type=float, default=3.0, help="how long to measure speed")
    args = parser.parse_args()

    classifier = Classifier.load(args.file)
    cases = labelled(args.set)
    unknown = sorted({c for c, _ in cases} - set(classifier.ids))
    if unknown:
        raise SystemExit(f"{args.set}: categories not in {args.file}: {', '.join(unknown)}")
    confusion: Counter[tuple[str, str]] = Counter()
    wrong = []
    for expected, text in cases:
        got = classifier.classify(text)
        confusion[expected, got.id] += 1
        if got.id != expected:
            wrong.append((expected, got.id, got.confidence, text))
    right = sum(n for (e, g), n in confusion.items() if e == g)
    print(f"test set: {args.set.relative_to(ROOT) if args.set.is_relative_to(ROOT) else args.set} "
          f"({len(cases)} reports, {len({c for c, _ in cases})} categories)")
    print(f"accuracy: {right}/{len(cases)} = {100 * right / len(cases):.1f}%")

    ids = classifier.ids
    short = {c: c[:6] for c in ids}
    print("\nconfusion (rows: labelled, columns: classified)")
    print(f"{'':26}" + "".join(f"{short[c]:>7}" for c in ids))
    for expected in ids:
        row = [confusion[expected, found] for found in ids]
        if any(row):
            print(f"{expected:26}" + "".join(f"{n or '.':>7}" for n in row))
    print("\nper category: labelled, right, recall")
    for cat in ids:
        total = sum(confusion[cat, g] for g in ids)
        if total:
            print(f"  {cat:26} {total:3} {confusion[cat, cat]:3} {100 * confusion[cat, cat] / total:5.0f}%")
    print("\nmisclassified:")
    for expected, classified, confidence, text in wrong:
        print(f"  {expected} -> {classified} ({confidence:.2f}): {text}")

    texts = [t for _, t in cases]
    for text in texts:  # warm-up: the per-word cache fills as it would in a running router
        classifier.classify(text)
    long = [" ".join(texts[i:i + 10]) for i in range(0, len(texts) - 9, 10)]  # e-mail-sized reports
    for name, batch in (("test sentences", texts), ("10 test sentences joined", long)):
        done = 0
        started = time.perf_counter()
        while (elapsed := time.perf_counter() - started) < args.seconds:
            for text in batch:
                classifier.classify(text)
            done += len(batch)
        print(f"\nspeed, {name} (mean {sum(map(len, batch)) / len(batch):.0f} chars): "
              f"{done / elapsed:,.0f} classifications/s on one core ({1e6 * elapsed / done:.1f} us each)", end="")
    print()
    cold = Classifier.load(args.file)
    started = time.perf_counter()
    for text in texts:
        cold.classify(text)
    print(f"cold (empty word cache, each sentence once): {1e6 * (time.perf_counter() - started) / len(texts):.1f} us "
          "each")


if __name__ == "__main__":
    main()
