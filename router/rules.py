"""The ordered rules file (TOML): which admin queue owns an envelope, and the trail of every rule tried.

Rules are tried in file order; the first that matches decides. A file is loaded whole or not at all, so a
bad edit followed by SIGHUP leaves the running rules in place (see `RuleBook`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta, Struct

from kanal.tomlfile import read_toml
from router.categories import CategoriesError, Category, Classifier
from router.gazetteer import (
    DEFAULT_NEED_MARKER,
    Gazetteer,
    envelope_text,
    places_from_areas,
    places_from_csv,
)
from router.geo import Boundaries, BoundaryError, GeoMatch
from router.places import (
    BUILTIN,
    PlacesError,
    abbreviations_path,
    check_landmarks,
    landmarks_path,
    load_abbreviations,
    load_landmarks,
)
from router.ranking import describe, rank
from schemas import subjects
from schemas.envelope import Envelope
from schemas.routed import Decision, RuleTrace

RuleId = Annotated[str, Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
Queue = Annotated[str, Meta(pattern=r"^[a-z_]+(\.[A-Za-z0-9_-]+)?$")]
OneOrMany = str | list[str]


class RulesError(ValueError):
    """The rules file cannot be used; the message says which rule and what is wrong."""


class GeoRule(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="geo", tag_field="type"):
    """Point-in-polygon over a boundaries GeoJSON -> `<level>.<code>`."""

    id: RuleId
    boundaries: str
    level: Literal["kelurahan", "kecamatan", "kota"] = "kelurahan"
    code_property: str = "kode"
    name_property: str = "kelurahan"
    cap_m: float = 1000.0
    caps: dict[str, float] = {}
    max_accuracy_m: float | None = None


class ChannelRule(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="channel",
                  tag_field="type"):
    """Envelope channel / instance / account / kind / category (each one value or a list) -> a fixed queue.

    `category` needs the file's `categories`; `located = false` limits the rule to reports without a
    location (true: with one), e.g. social-aid reports nobody could place go to the social affairs office.
    """

    id: RuleId
    queue: Queue
    channel: OneOrMany | None = None
    instance: OneOrMany | None = None
    account: OneOrMany | None = None
    kind: OneOrMany | None = None
    category: OneOrMany | None = None
    located: bool | None = None


class GazetteerRule(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="gazetteer",
                    tag_field="type"):
    """Place names in the subject and text -> the most specific area named."""

    id: RuleId
    names: str | None = None
    boundaries: str | None = None
    aliases: dict[str, str] = {}
    need_marker: list[str] | None = None
    levels: tuple[Literal["kelurahan", "kecamatan", "kota"], ...] = ("kelurahan", "kecamatan", "kota")
    # Landmarks and short forms: "builtin" (shipped in router/data), a file (relative path), or "" for none.
    landmarks: str = "builtin"
    abbreviations: str = "builtin"
    fuzzy: bool = True


class FlagsRule(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="flags", tag_field="type"):
    """Envelopes carrying any of `flags` (auto-replies, bounces, bulk mail) -> a queue that is not a complaint's."""

    id: RuleId
    flags: list[str]
    queue: Queue = "automatic"


class FallbackRule(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="fallback",
                   tag_field="type"):
    """Always matches: what no other rule placed goes here (triage by default)."""

    id: RuleId
    queue: Queue = "triage"


Rule = FlagsRule | GeoRule | ChannelRule | GazetteerRule | FallbackRule
# (rule, envelope, its `plain` text, the batch's geo lookups) -> (queue or None, why, the matched value)
_Attempt = Callable[[Any, Envelope, str | None, Mapping[str, "GeoMatch | None"] | None],
                    tuple[str | None, str, str | None]]


class RulesFile(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The file's top level: a version, the categories file (optional) and the ordered `[[rule]]` tables."""

    version: Literal[1] = 1
    categories: str | None = None
    category_threshold: Annotated[float, Meta(ge=0.0, le=1.0)] | None = None
    rule: list[Rule]


def _values(value: OneOrMany | None) -> list[str] | None:
    if value is None:
        return None
    return [v.lower() for v in ([value] if isinstance(value, str) else value)]


class RuleSet:
    """A loaded, validated rules file with its boundaries and gazetteers ready."""

    def __init__(self, rules: list[Rule], source: str, geo: dict[str, Boundaries], gaz: dict[str, Gazetteer],
                 classifier: Classifier | None = None):
        self.rules = rules
        self.source = source
        self.classifier = classifier
        self._geo = geo
        self._gaz = gaz
        self._chan = {r.id: [(k, w) for k in ("channel", "instance", "account", "kind")
                             if (w := _values(getattr(r, k))) is not None]
                      for r in rules if isinstance(r, ChannelRule)}
        self._cats = {r.id: frozenset(_values(r.category) or ()) for r in rules
                      if isinstance(r, ChannelRule) and r.category is not None}
        self._noflag = {r.id: "no flag of " + ", ".join(r.flags) for r in rules if isinstance(r, FlagsRule)}
        self._steps = [(rule, self._attempt(rule)) for rule in rules]  # each rule with its check, chosen once
        # Why a channel rule passed over a value: the same few strings for every envelope, built once each.
        self._misses: dict[tuple[str, str, str], str] = {}

    @classmethod
    def load(cls, path: Path) -> RuleSet:
        """Read and validate a rules file; RulesError names the rule and the problem."""
        data = read_toml(path, "rules file", RulesError)
        return cls.from_dict(data, path.resolve().parent, str(path))

    @classmethod
    def from_dict(cls, data: dict[str, Any], base: Path, source: str = "<memory>") -> RuleSet:
        """Validate parsed TOML; relative paths are taken from `base` (the rules file's folder)."""
        try:
            parsed = msgspec.convert(data, RulesFile, strict=True)
        except msgspec.ValidationError as err:
            raise RulesError(f"rules file {source}: {_where(err, data)}") from err
        classifier = None
        if parsed.categories is not None:
            try:
                classifier = Classifier.load(base / parsed.categories, parsed.category_threshold)
            except CategoriesError as err:
                raise RulesError(f"rules file {source}: {err}") from err
        seen: set[str] = set()
        geo: dict[str, Boundaries] = {}
        gaz: dict[str, Gazetteer] = {}
        files: dict[str, Boundaries] = {}
        for rule in parsed.rule:
            if rule.id in seen:
                raise RulesError(f"rules file {source}: rule id {rule.id!r} is used twice")
            seen.add(rule.id)
            try:
                if isinstance(rule, GeoRule):
                    geo[rule.id] = _boundaries(base / rule.boundaries, rule, files)
                elif isinstance(rule, GazetteerRule):
                    gaz[rule.id] = _gazetteer(base, rule, files)
                elif isinstance(rule, ChannelRule | FallbackRule | FlagsRule):
                    subjects.admin(rule.queue)
                    if isinstance(rule, FlagsRule) and not rule.flags:
                        raise RulesError("a flags rule needs at least one flag")
                    if isinstance(rule, ChannelRule):
                        _check_channel_rule(rule, classifier)
            except (BoundaryError, PlacesError, OSError, ValueError) as err:
                raise RulesError(f"rules file {source}: rule {rule.id!r}: {err}") from err
        if not parsed.rule or not isinstance(parsed.rule[-1], FallbackRule):
            raise RulesError(f"rules file {source}: the last rule must be a fallback, so every item has a queue")
        return cls(parsed.rule, source, geo, gaz, classifier)

    def decide_many(self, envs: Sequence[Envelope], texts: Sequence[str | None]) -> list[Decision]:
        """`decide` for a batch: each geo rule locates all of the batch's points in one vectorised query."""
        located: list[dict[str, GeoMatch | None]] = [{} for _ in envs]
        for rule in self.rules:
            if not isinstance(rule, GeoRule):
                continue
            todo = [i for i, env in enumerate(envs) if self._geo_point(rule, env)]
            lons = [envs[i].location.lon for i in todo]  # type: ignore[union-attr]
            lats = [envs[i].location.lat for i in todo]  # type: ignore[union-attr]
            for i, match in zip(todo, self._geo[rule.id].locate_many(lons, lats), strict=True):
                located[i][rule.id] = match
        return [self.decide(env, text, found) for env, text, found in zip(envs, texts, located, strict=True)]

    def decide(self, env: Envelope, text: str | None = None,
               located: Mapping[str, GeoMatch | None] | None = None) -> Decision:
        """Try the rules in order and return the first match, with the trail of every rule tried.

        `text`: `plain(envelope_text(...))` if the caller has it already (the router shares it with dedup).
        `located`: geo rule id -> the envelope's polygon, when `decide_many` looked it up for the batch.
        """
        trail: list[RuleTrace] = []
        category = None
        if self.classifier is not None:
            category = (self.classifier.classify(envelope_text(env.subject, env.text)) if text is None
                        else self.classifier.classify(text, plain=True))
        for rule, attempt in self._steps:
            if category is not None and rule.id in self._cats:
                queue, reason, matched = self._try_category(rule, env, category)  # type: ignore[arg-type]
            else:
                queue, reason, matched = attempt(rule, env, text, located)
            trail.append(RuleTrace(rule_id=rule.id, matched=queue is not None, reason=reason))
            if queue is not None:
                decision = Decision(rule_id=rule.id, rule_type=rule.__struct_config__.tag,  # type: ignore[arg-type]
                                    queue=queue, reason=reason, matched=matched, trail=tuple(trail))
                if category is None:
                    return decision
                return msgspec.structs.replace(decision, category=category.id,
                                               category_confidence=category.confidence,
                                               category_cues=category.cues)
        raise AssertionError("unreachable: the last rule is a fallback")

    def _try_category(self, rule: ChannelRule, env: Envelope,
                      category: Category) -> tuple[str | None, str, str | None]:
        """A channel rule naming categories: the category first, then `located`, then the envelope fields."""
        if category.id not in self._cats[rule.id]:
            return None, f"category {category.id} not in {sorted(self._cats[rule.id])}", None
        if rule.located is not None and (env.location is not None) != rule.located:
            return None, "the report has a location" if rule.located is False else "the report has no location", None
        queue, reason, _ = self._try_channel(rule, env, None, None)
        if queue is None:
            return None, reason, None
        cues = f": {', '.join(category.cues)}" if category.cues else ""
        where = "" if rule.located is None else (", with a location" if rule.located else ", no location")
        return queue, f"category {category.id} ({category.confidence:.2f}{cues}){where}", category.id

    def _attempt(self, rule: Rule) -> _Attempt:
        """The check for a rule's type; returns (queue or None, why, the matched value)."""
        if isinstance(rule, GeoRule):
            return self._try_geo
        if isinstance(rule, ChannelRule):
            return self._try_channel
        if isinstance(rule, FlagsRule):
            return self._try_flags
        if isinstance(rule, GazetteerRule):
            return self._try_gazetteer
        return self._try_fallback

    def _try_channel(self, rule: ChannelRule, env: Envelope, text: str | None,
                     located: Mapping[str, GeoMatch | None] | None) -> tuple[str | None, str, str | None]:
        for key, wanted in self._chan[rule.id]:
            value = getattr(env, key)
            if str(value).lower() not in wanted:
                return None, self._miss(rule.id, key, value, wanted), None
        return rule.queue, f"channel {env.channel} / {env.instance} / {env.account}", env.account

    def _try_flags(self, rule: FlagsRule, env: Envelope, text: str | None,
                   located: Mapping[str, GeoMatch | None] | None) -> tuple[str | None, str, str | None]:
        hit = sorted(set(rule.flags) & set(env.flags)) if env.flags else None
        if not hit:
            return None, self._noflag[rule.id], None
        return rule.queue, f"flagged {', '.join(hit)}: automatic mail, not a complaint", hit[0]

    def _try_gazetteer(self, rule: GazetteerRule, env: Envelope, text: str | None,
                       located: Mapping[str, GeoMatch | None] | None) -> tuple[str | None, str, str | None]:
        if text is None:
            reading = self._gaz[rule.id].read(envelope_text(env.subject, env.text))
        else:  # split only here: most envelopes never reach a gazetteer rule
            reading = self._gaz[rule.id].read("", text.split())
        found = [m for m in reading.found if m.place.level in rule.levels]
        if not found:
            return None, "; ".join(["no place name in the text", *reading.notes]), None
        best = min(found, key=rank)
        return f"{best.place.level}.{best.place.code}", describe(best, found, reading.notes), best.phrase

    @staticmethod
    def _try_fallback(rule: FallbackRule, env: Envelope, text: str | None,
                      located: Mapping[str, GeoMatch | None] | None) -> tuple[str | None, str, str | None]:
        return rule.queue, "fallback", None

    def _miss(self, rule_id: str, key: str, value: object, wanted: list[str]) -> str:
        """`<key> <value>r not in <wanted>`, remembered per rule and value (at most 10,000 kept)."""
        cache_key = (rule_id, key, str(value))
        reason = self._misses.get(cache_key)
        if reason is None:
            if len(self._misses) >= 10_000:
                self._misses.clear()
            reason = self._misses[cache_key] = f"{key} {value!r} not in {wanted}"
        return reason

    @staticmethod
    def _geo_point(rule: GeoRule, env: Envelope) -> bool:
        """Whether the geo rule looks the envelope's point up (it has one, precise enough)."""
        loc = env.location
        return loc is not None and not (
            rule.max_accuracy_m is not None and loc.accuracy_m is not None and loc.accuracy_m > rule.max_accuracy_m)

    def _try_geo(self, rule: GeoRule, env: Envelope, text: str | None = None,
                 located: Mapping[str, GeoMatch | None] | None = None) -> tuple[str | None, str, str | None]:
        loc = env.location
        if loc is None:
            return None, "no location", None
        if rule.max_accuracy_m is not None and loc.accuracy_m is not None and loc.accuracy_m > rule.max_accuracy_m:
            return None, f"location accuracy {loc.accuracy_m:g} m worse than {rule.max_accuracy_m:g} m", None
        if located is not None and rule.id in located:
            match = located[rule.id]
        else:
            match = self._geo[rule.id].locate(loc.lon, loc.lat)
        where = f"({loc.lat:.6f}, {loc.lon:.6f})"
        if match is None:
            return None, f"{where} outside every polygon and beyond the nearest-polygon cap", None
        area = match.area
        code = {"kelurahan": area.code, "kecamatan": area.code[:6], "kota": area.code[:4]}[rule.level]
        how = {
            "inside": "inside",
            "overlap": f"inside {match.candidates} overlapping polygons, most of a {25:g} m disc in",
            "nearest": f"{match.distance_m:g} m from the nearest polygon,",
        }[match.how]
        reason = f"{where} ({loc.source}) {how} {area.code} {area.name}"
        return f"{rule.level}.{code}", reason, area.code


def _check_channel_rule(rule: ChannelRule, classifier: Classifier | None) -> None:
    if not any(getattr(rule, k) for k in ("channel", "instance", "account", "kind", "category")):
        raise RulesError("a channel rule needs at least one of channel, instance, account, kind, category")
    if rule.located is not None and rule.category is None:
        raise RulesError("`located` goes with `category`: name the categories this rule is for")
    if rule.category is not None:
        if classifier is None:
            raise RulesError("the rule matches on category but the rules file names no categories file: "
                             "add `categories = \"categories.toml\"` at its top")
        unknown = sorted(set(_values(rule.category) or ()) - set(classifier.ids))
        if unknown:
            raise RulesError(f"unknown category {', '.join(map(repr, unknown))}: use one of "
                             f"{', '.join(classifier.ids)} (from {classifier.source})")


def _boundaries(path: Path, rule: GeoRule, files: dict[str, Boundaries]) -> Boundaries:
    key = f"{path.resolve()}|{rule.code_property}|{rule.name_property}|{rule.cap_m}|{sorted(rule.caps.items())}"
    if key not in files:
        files[key] = Boundaries.load(path, code_property=rule.code_property, name_property=rule.name_property,
                                     caps=rule.caps, default_cap_m=rule.cap_m)
    return files[key]


def _gazetteer(base: Path, rule: GazetteerRule, files: dict[str, Boundaries]) -> Gazetteer:
    if rule.names is None and rule.boundaries is None:
        raise RulesError("a gazetteer rule needs `names` (a code list CSV) or `boundaries` (GeoJSON)")
    places = places_from_csv(base / rule.names) if rule.names else []
    geo: Boundaries | None = None
    if rule.boundaries:
        geo = _boundaries(base / rule.boundaries, GeoRule(id=rule.id, boundaries=rule.boundaries), files)
        places += places_from_areas((a.code, a.name, a.kecamatan, a.kota) for a in geo.areas)
    lm_path, ab_path = landmarks_path(rule.landmarks, base), abbreviations_path(rule.abbreviations, base)
    landmarks = load_landmarks(lm_path) if lm_path else []
    if rule.landmarks == BUILTIN:  # Jakarta's landmarks: only those whose kelurahan (code and name) are listed
        named = {p.code: p.name.lower() for p in places if p.level == "kelurahan"}
        landmarks = [lm for lm in landmarks if named.get(lm.code) == lm.kelurahan.lower()]
    if geo is not None and landmarks:  # with polygons at hand, each landmark's point is checked at start
        errors = check_landmarks(landmarks, geo, str(lm_path)).errors
        if errors:
            raise PlacesError(f"{len(errors)} landmark(s) outside their kelurahan, e.g. {errors[0]}")
    need_marker = DEFAULT_NEED_MARKER if rule.need_marker is None else rule.need_marker
    return Gazetteer.build(places, rule.aliases, need_marker, landmarks=landmarks, fuzzy=rule.fuzzy,
                           abbreviations=load_abbreviations(ab_path) if ab_path else [])


def _where(err: msgspec.ValidationError, data: dict[str, Any]) -> str:
    """Name the rule by its id instead of `$.rule[3]` where possible."""
    message = str(err)
    found = re.search(r"\$\.rule\[(\d+)\]", message)
    rules = data.get("rule")
    if found and isinstance(rules, list) and int(found.group(1)) < len(rules):
        entry = rules[int(found.group(1))]
        rid = entry.get("id", "?") if isinstance(entry, dict) else "?"
        message = f"rule #{int(found.group(1)) + 1} (id {rid!r}): {message}"
    return message


class RuleBook:
    """The rules in force; `reload()` swaps them only when the new file is valid."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.current = RuleSet.load(path)

    def reload(self) -> RulesError | None:
        """Load the file again; on error keep the old rules and return the error."""
        try:
            self.current = RuleSet.load(self.path)
        except RulesError as err:
            return err
        return None
