"""Writes bench/data/places_typos_dev.tsv: a development set of misspelt places, to tune the typo matching on.

A seeded generator (same output on every run) takes kelurahan and kecamatan names from
../shared/data/jakarta/wilayah.csv and landmark names from router/data/landmarks.csv, misspells each the way
people do (a dropped, swapped, doubled or wrong-vowel letter; a joined or split word; the old spelling
dj/tj/oe; a phone-keyboard neighbour; chat style without vowels, "cmpk putih", "jtinegara") and puts it in
complaint sentences: after "di"/"daerah"/"dekat", and without such a word ("banjir lagi kebon jeurk parah"),
at the start, after a street name, with its kecamatan or kota named (agreeing, or not: then the label is what
the text names plainly). Place-free sentences carry ordinary words a letter or two from a name and chat
abbreviations. The hand-written block at the end of the file (after HAND) is kept as it is.

This is a DEVELOPMENT set (the matching is tuned on it), never a measure of generalisation: the held-out sets
in bench/data are. Run: `.venv/bin/python bench/typos_dev.py` (rewrites the file), then
`.venv/bin/python bench/places.py --set typos_dev`.
"""

from __future__ import annotations

import csv
import random
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from router.places import DEFAULT_NEED_MARKER  # noqa: E402
from router.typos import NEAR_KEYS as NEAR  # noqa: E402  (the keyboard the matcher assumes)

WILAYAH = ROOT.parent / "shared/data/jakarta/wilayah.csv"
LANDMARKS = ROOT / "router/data/landmarks.csv"
OUT = ROOT / "bench/data/places_typos_dev.tsv"
HAND = "# --- hand-written (kept by bench/typos_dev.py) ---"
SEED = 22
PLACED, FREE = 260, 70

VOWELS = "aeiou"
# Names that are ordinary words: the gazetteer reads them only after "kel."; a typo of one is left out.
ORDINARY = {name.lower() for name in DEFAULT_NEED_MARKER}
SPLIT_HEADS = ("ci", "kali", "pulo", "rawa", "pal", "tanjung", "duri", "kampung")


def _letters(word: str) -> list[int]:
    return [i for i in range(1, len(word)) if word[i].isalpha()]


def drop(rng: random.Random, name: str) -> str:
    i = rng.choice(_letters(name))
    return name[:i] + name[i + 1:] if name[i] != " " else name


def swap(rng: random.Random, name: str) -> str:
    spots = [i for i in range(1, len(name) - 1) if name[i].isalpha() and name[i + 1].isalpha()
             and name[i] != name[i + 1]]
    i = rng.choice(spots)
    return name[:i] + name[i + 1] + name[i] + name[i + 2:]


def double(rng: random.Random, name: str) -> str:
    i = rng.choice(_letters(name))
    return name[:i] + name[i] + name[i:]


def vowel(rng: random.Random, name: str) -> str:
    spots = [i for i in range(1, len(name)) if name[i] in VOWELS]
    i = rng.choice(spots)
    return name[:i] + rng.choice([v for v in VOWELS if v != name[i]]) + name[i + 1:]


def space(rng: random.Random, name: str) -> str:
    if " " in name:  # joined: "tanahabang", "kebonjeruk"
        spaces = [i for i, ch in enumerate(name) if ch == " "]
        i = rng.choice(spaces)
        return name[:i] + name[i + 1:]
    for head in SPLIT_HEADS:  # split: "ci landak", "kali deres"
        if name.startswith(head) and len(name) > len(head) + 3:
            return name[:len(head)] + " " + name[len(head):]
    return drop(rng, name)


def old(rng: random.Random, name: str) -> str:
    """The old spelling (j -> dj, c -> tj, u -> oe), everywhere or at one place; the reverse if it has one."""
    if any(s in name for s in ("dj", "tj", "oe")):
        return name.replace("dj", "j").replace("tj", "c").replace("oe", "u")
    pairs = [(a, b) for a, b in (("j", "dj"), ("c", "tj"), ("u", "oe")) if a in name]
    if not pairs:
        return vowel(rng, name)
    if rng.random() < 0.6:
        for a, b in pairs:
            name = name.replace(a, b)
        return name
    a, b = rng.choice(pairs)
    i = rng.choice([k for k in range(len(name)) if name.startswith(a, k)])
    return name[:i] + b + name[i + len(a):]


def keyboard(rng: random.Random, name: str) -> str:
    i = rng.choice([k for k in _letters(name) if name[k] in NEAR])
    return name[:i] + rng.choice(NEAR[name[i]]) + name[i + 1:]


def chat(rng: random.Random, name: str) -> str:
    """Chat style: one word without its vowels ("cmpk putih", "kbyrn lama") or the first vowel gone
    ("jtinegara")."""
    words = name.split()
    k = rng.choice([n for n, w in enumerate(words) if sum(ch in VOWELS for ch in w[1:]) >= 2] or [0])
    word = words[k]
    if rng.random() < 0.4:
        first = next((i for i in range(1, len(word)) if word[i] in VOWELS), None)
        words[k] = word if first is None else word[:first] + word[first + 1:]
    else:
        words[k] = word[0] + "".join(ch for ch in word[1:] if ch not in VOWELS)
    return " ".join(words)


TYPOS: dict[str, Callable[[random.Random, str], str]] = {
    "drop": drop, "swap": swap, "double": double, "vowel": vowel, "space": space, "old": old,
    "keyboard": keyboard, "chat": chat,
}

CUE = [
    "banjir di {p}", "sampah numpuk daerah {p} udah seminggu", "lampu jalan mati dekat {p}",
    "macet parah depan {p} tiap sore", "got mampet di {p} bau bgt", "pohon tumbang di {p} nutup jalan",
    "jalan berlubang di sekitar {p}", "air pam mati di {p} dari kemarin", "genangan setinggi lutut di {p}",
    "tolong cek saluran air di {p}", "trotoar rusak depan {p} min", "kabel listrik menjuntai dkt {p}",
    "parkir liar di {p} bikin macet", "pengamen resek di {p}", "lapor, ada tawuran di {p} semalam",
]
NO_CUE = [
    "banjir lagi {p} parah", "{p} banjir lagi min", "{p} macet total dari pagi", "jalan rusak {p} udah sebulan",
    "tolong {p} ada pohon tumbang", "warga {p} keluhkan bau sampah", "{p} lampu jalannya mati semua",
    "min {p} banjir lg nih", "sampah {p} ga diangkut2", "got {p} mampet lagi", "info {p} banjir sepaha",
    "Jl. Kenanga 3 {p} banyak lubang", "jln mawar raya {p} gelap gulita", "macet {p} gara2 galian",
]
KEL = ["got mampet di kel. {p}", "kelurahan {p} sampahnya numpuk", "lampu mati di Kel {p} RT 04"]
WITH_KEC = ["banjir di {p}, kec. {k}", "{p} kecamatan {k} jalan rusak", "sampah di {p} kec {k}"]
WITH_KOTA = ["banjir di {p} {c}", "{p}, {c} macet parah", "jalan rusak {p} {c}"]
KOTA_SHORT = {"3171": "jakpus", "3172": "jakut", "3173": "jakbar", "3174": "jaksel", "3175": "jaktim"}
KOTA_NAME = {"3171": "Jakarta Pusat", "3172": "Jakarta Utara", "3173": "Jakarta Barat", "3174": "Jakarta Selatan",
             "3175": "Jakarta Timur"}

FREE_TEMPLATES = [
    "banjir di {w} rumah warga", "sampah numpuk di {w} udah {n} hari", "lampu mati di {w} gelap bgt",
    "pohon tumbang di {w} tlg dibantu", "jalan rusak di {w} dekat {w2}", "{w} banjir lagi min",
    "warga {o} keluhkan got mampet", "ada {o} di {w}", "tolong {o} di {w} ditertibkan", "{o} {w2} parah bgt",
    "macet di {w} krn {o}", "air mati sdh {n} hari di {w}", "got mampet dkt {w} bau nya {o}",
]
FREE_PLACES = [  # where a place word is expected, an ordinary one (some misspelt)
    "depan rumah", "pertigaan", "perempatn", "tikungan", "kolong jembatan", "ujung gang", "pinggir kali",
    "bantaran kali", "samping musholla", "warung bu ratna", "kontrakan", "kosan", "lapangan bola", "pos ronda",
    "perlintasan kereta", "sekolahan anak", "belakang pasar", "kebun kosong", "sebelah masjid", "tkp",
    "lokasi", "sana", "jalan utama", "jln kecil", "gg buntu", "rt 05 rw 03", "komplek kami", "perumahan",
    "depan halte", "dekat stasiun", "bawah tol", "pintu air", "taman bermain", "rawa2 belakang",
]
FREE_ORDINARY = [  # ordinary words a letter or two from a name, and chat abbreviations
    "melawan", "pancaran", "gambar", "senin", "menteri", "cemara", "kemarau", "kelapa muda", "jeruk nipis",
    "pisang goreng", "duri ikan", "bambu runcing", "karet gelang", "kramat jalanan", "galian", "genangan",
    "kebakaran", "pemadaman", "pembongkaran", "penggusuran", "pedagang", "preman", "pengamen", "ojol",
    "anak2 tawuran", "yg buang sampah", "dgn motor", "tdk ada petugas", "sdh lapor", "blm diangkut",
    "bnyk nyamuk", "mlm hari", "kmrn sore", "skrg", "tlg", "pdhl", "gmn nih", "selatan rumah", "utara jalan",
    "tengah malam", "baru kemarin", "jati diri", "cipika cipiki", "kalibrasi", "tenggara", "pertamina",
    "manggis", "rambutan busuk", "bintaro", "kampungan", "menteng2an", "kebun jeruk nya kosong",
]


def rows_of(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def misspell(rng: random.Random, name: str) -> tuple[str, str]:
    kind = rng.choice(list(TYPOS))
    out = TYPOS[kind](rng, name)
    same = out == name or out.replace(" ", "") == name.replace(" ", "")
    if same and kind != "space":  # joining or splitting alone is the typo
        kind, out = "drop", drop(rng, name)
    if len(name.replace(" ", "")) >= 13 and rng.random() < 0.15 and kind not in ("chat", "old"):
        out = drop(rng, out)
        kind += "+drop"
    return kind, out


def generate() -> list[str]:
    rng = random.Random(SEED)
    wilayah = rows_of(WILAYAH)
    kec = {r["kode"]: r["nama"] for r in wilayah if r["level"] == "kecamatan"}
    kel = [(r["kode"], r["nama"]) for r in wilayah if r["level"] == "kelurahan" and r["kode"][:4] != "3101"]
    kec_names = {n.lower().replace(" ", ""): n for n in kec.values()}
    marks = [(r["name"], r["kode"], r["kelurahan"]) for r in rows_of(LANDMARKS)]
    out = [f"# Typos development set, written by bench/typos_dev.py (seed {SEED}): tune on it, it is not held out.",
           "# expected<TAB>text; each generated line's comment above it gives the typo kind and the name."]
    made: set[str] = set()
    while len(made) < PLACED:
        pick = rng.random()
        if pick < 0.45:
            code, name = rng.choice(kel)
            if name.lower() in ORDINARY or len(name.replace(" ", "")) < 6:
                continue
            target, label = name, f"kel:{name}"
            shared = name.lower().replace(" ", "") in kec_names  # names compare without spaces
        elif pick < 0.65:
            code = rng.choice(sorted(kec))
            if code[:4] == "3101":
                continue
            name = kec[code]
            if len(name.replace(" ", "")) < 6:
                continue
            target, label, shared = name, f"kec:{name}", False
        else:
            lm_name, code, kel_name = rng.choice(marks)
            target, label, shared = lm_name, f"kel:{kel_name}", False
            if len(lm_name.replace(" ", "")) < 8:
                continue
        kind, typo = misspell(rng, target.lower())
        style = rng.random()
        if shared and label.startswith("kel:"):  # a bare name shared with a kecamatan means the kecamatan
            label = f"kec:{kec_names[name.lower().replace(' ', '')]}" if style >= 0.15 else label
        if style < 0.15 and not label.startswith("kec:") and not lm_name_is(target, marks):
            text = rng.choice(KEL).format(p=typo)
        elif style < 0.55:
            text = rng.choice(CUE).format(p=typo)
        elif style < 0.80:
            text = rng.choice(NO_CUE).format(p=typo)
            if rng.random() < 0.3:
                text = text[0].upper() + text[1:]
        elif style < 0.90 and label.startswith("kel:") and not lm_name_is(target, marks) and kind != "space":
            own = code[:6]
            if rng.random() < 0.6:
                text = rng.choice(WITH_KEC).format(p=typo, k=kec[own])
            else:  # a kecamatan that disagrees: a typo never crosses it, the kecamatan named wins
                other = rng.choice([c for c in sorted(kec) if c[:4] == own[:4] and c != own])
                text = rng.choice(WITH_KEC).format(p=typo, k=kec[other])
                label = f"kec:{kec[other]}"
        elif code[:4] in KOTA_SHORT:
            if rng.random() < 0.7:
                text = rng.choice(WITH_KOTA).format(p=typo, c=KOTA_SHORT[code[:4]])
            elif kind != "space" and not lm_name_is(target, marks):  # a kota that disagrees
                other = rng.choice([c for c in sorted(KOTA_SHORT) if c != code[:4]])
                text = rng.choice(WITH_KOTA).format(p=typo, c=KOTA_SHORT[other])
                label = f"kota:{KOTA_NAME[other]}"
            else:
                continue
        else:
            continue
        if text in made:
            continue
        made.add(text)
        out += [f"# {kind}: {target}", f"{label}\t{text}"]
    out.append("# place-free: ordinary words near names, chat abbreviations, place words that are not places")
    free: set[str] = set()
    while len(free) < FREE:
        text = rng.choice(FREE_TEMPLATES).format(w=rng.choice(FREE_PLACES), w2=rng.choice(FREE_PLACES),
                                                 o=rng.choice(FREE_ORDINARY), n=rng.randint(2, 9))
        if text not in free:
            free.add(text)
            out.append(f"-\t{text}")
    return out


def lm_name_is(target: str, marks: list[tuple[str, str, str]]) -> bool:
    return any(target == name for name, _, _ in marks)


def main() -> None:
    if not WILAYAH.exists():
        sys.exit(f"{WILAYAH} not found: ../shared/data/jakarta must be beside this clone")
    hand: list[str] = []
    if OUT.exists():
        lines = OUT.read_text(encoding="utf-8").splitlines()
        if HAND in lines:
            hand = lines[lines.index(HAND):]
    OUT.write_text("\n".join(generate() + (hand or [HAND])) + "\n", encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
