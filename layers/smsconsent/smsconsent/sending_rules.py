"""The sending rules shipped as data (``sending_rules.json``): per country and US state,
when marketing SMS may reach a recipient and how many in a rolling window, each with its
legal source and the day it was checked (SPEC "Sending rules by country and US state").

Read and checked whole on first use, never at import (every function parses tenants, and
a tenant's ``sending_rules.waive`` names rules of this pack). What the rules mean for one
recipient at one moment is ``presend.rules``; the holiday calendars are loaded there, and
only when a rule needs one.

Kinds of rule:

- ``hours``: marketing only from ``start`` to ``end``, local time (the number's zones,
  or the rule's own ``zone``);
- ``closed_days``: none on these weekdays (``mon`` ... ``sun``);
- ``holidays``: none on the public holidays of ``country`` (and ``subdivisions``) in the
  ``holidays`` library's calendar;
- ``cap``: at most ``max`` marketing sends in any rolling ``hours``.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

DATA = Path(__file__).with_name("sending_rules.json")
KINDS = ("hours", "closed_days", "holidays", "cap")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # date.weekday() order
_ID = re.compile(r"(?P<where>[A-Z]{2}(-[A-Z]{2})?):[a-z0-9-]{1,40}\Z")
_WHERE = re.compile(r"[A-Z]{2}(-[A-Z]{2})?\Z")
_HHMM = re.compile(r"([01]\d|2[0-3]):[0-5]\d\Z")
_COMMON = {"id", "kind", "source", "url", "checked"}
_KEYS = {
    "hours": _COMMON | {"start", "end", "zone"},
    "closed_days": _COMMON | {"days"},
    "holidays": _COMMON | {"country", "subdivisions"},
    "cap": _COMMON | {"max", "hours"},
}


class RulePackError(ValueError):
    """The shipped data is broken: a bug to fix here, never a tenant's fault."""


@dataclass(frozen=True, slots=True)
class Rule:
    id: str  # "<jurisdiction>:<name>", e.g. "US-FL:3-per-24h"
    kind: str
    source: str
    url: str | None
    checked: date
    start: str | None = None  # hours
    end: str | None = None
    zone: str | None = None  # hours: judged in this zone, not the number's
    days: tuple[int, ...] = ()  # closed_days: date.weekday() numbers
    country: str | None = None  # holidays
    subdivisions: tuple[str, ...] = ()
    max: int = 0  # cap
    hours: int = 0


@dataclass(frozen=True, slots=True)
class Jurisdiction:
    code: str  # "FR", "US", "US-FL"
    name: str
    rules: tuple[Rule, ...]
    no_rule: str | None  # what was checked where the law sets no rule
    checked: date | None


@functools.cache
def pack() -> dict[str, Jurisdiction]:
    """Every jurisdiction of the shipped data, checked."""
    return parse(json.loads(DATA.read_text(encoding="utf-8")))


@functools.cache
def rule_ids() -> frozenset[str]:
    return frozenset(rule.id for where in pack().values() for rule in where.rules)


def parse(doc: dict[str, Any]) -> dict[str, Jurisdiction]:
    out = {}
    for code, spec in doc["jurisdictions"].items():
        if not _WHERE.match(code):
            raise RulePackError(f"{code}: jurisdictions are a country code, or US-<state>")
        rules = tuple(_rule(code, r) for r in spec["rules"])
        no_rule = spec.get("no_rule")
        if not rules and not no_rule:
            raise RulePackError(f"{code}: without rules, say what was checked ('no_rule')")
        out[code] = Jurisdiction(
            code, spec["name"], rules, no_rule, _date(spec["checked"], code) if "checked" in spec else None
        )
    ids = [rule.id for where in out.values() for rule in where.rules]
    if len(ids) != len(set(ids)):
        raise RulePackError(f"rule ids must be unique: {sorted(i for i in ids if ids.count(i) > 1)}")
    return out


def _date(value: str, where: str) -> date:
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError) as exc:
        raise RulePackError(f"{where}: 'checked' must be a date (YYYY-MM-DD)") from exc


def _rule(code: str, spec: dict[str, Any]) -> Rule:
    rule_id, kind = spec.get("id", "?"), spec.get("kind")
    found = _ID.match(rule_id)
    if found is None or found["where"] != code:
        raise RulePackError(f"{code}: rule id {rule_id!r} must be '{code}:<name>'")
    if kind not in KINDS:
        raise RulePackError(f"{rule_id}: kind must be one of {', '.join(KINDS)}")
    unknown = set(spec) - _KEYS[kind]
    if unknown:
        raise RulePackError(f"{rule_id}: unknown keys {sorted(unknown)}")
    if not spec.get("source"):
        raise RulePackError(f"{rule_id}: every rule names its source")
    common: dict[str, Any] = {
        "id": rule_id,
        "kind": kind,
        "source": spec["source"],
        "url": spec.get("url"),
        "checked": _date(spec.get("checked", ""), rule_id),
    }
    if kind == "hours":
        start, end = spec.get("start", ""), spec.get("end", "")
        if not _HHMM.match(start) or not _HHMM.match(end) or start == end:
            raise RulePackError(f"{rule_id}: start and end must be different HH:MM times")
        return Rule(**common, start=start, end=end, zone=spec.get("zone"))
    if kind == "closed_days":
        days = spec.get("days") or []
        if not days or any(d not in WEEKDAYS for d in days):
            raise RulePackError(f"{rule_id}: days must name weekdays ({', '.join(WEEKDAYS)})")
        return Rule(**common, days=tuple(sorted(WEEKDAYS.index(d) for d in days)))
    if kind == "holidays":
        country = spec.get("country", "")
        if not re.fullmatch(r"[A-Z]{2}", country):
            raise RulePackError(f"{rule_id}: country must be an ISO 3166 code")
        return Rule(**common, country=country, subdivisions=tuple(spec.get("subdivisions", ())))
    most, hours = spec.get("max"), spec.get("hours")
    if not isinstance(most, int) or not isinstance(hours, int) or most < 1 or hours < 1:
        raise RulePackError(f"{rule_id}: max and hours must be positive integers")
    return Rule(**common, max=most, hours=hours)
