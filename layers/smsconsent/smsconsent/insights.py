"""Insights (pure): what each consent event adds to its tenant's UTC day, and the day items
of a range folded into the answer of ``GET /v1/{tenant}/insights``.

Each counted event adds 1 to named counters of its tenant's day (``Counted.counts``):
totals (``accepted``, ``sms_sent``, ``confirmed``, ``optouts``, ``lapsed``, ``expired``,
``erased``), opt-outs per dimension (``via#<via>``, ``kw#<keyword>``, ``why#<reason>``,
``cc#<country>``) and confirmations per bucket of minutes to confirm (``min#<lower bound>``);
an opt-out blamed on a campaign adds 1 to that campaign's opt-outs. The store keeps them as
numbers (``store.insights``), so a day is a handful of small items whatever the volume.

What counts, from the evidence behind each consent event (never a number, never free text):
- a signup accepted: ``consent.requested`` (``optin_requested`` and ``optin_repeated``);
  ``sms_sent``: those that opened a confirmation SMS (``optin_requested``; a send the
  provider then refused still counts, the ``ConfirmationSmsSent`` metric counts sends);
- ``confirmed``: ``consent.confirmed``, with the minutes from the link's issue (``issued_at``);
- an opt-out: ``consent.opted_out``, by ``via``, ``keyword`` (when one), reason (``reason``
  below), the number's country at the opt-out, and the campaign it is blamed on;
- ``lapsed``, ``expired``, ``erased``: ``consent.lapsed``, ``consent.expired``,
  ``subject.erased``. Restored (START), imported and unreachable count nowhere here.

Minutes to confirm are kept in buckets (``BUCKETS``): exact whole minutes under 15, then
5-minute buckets to an hour, 15-minute ones to 3 hours, hours to a day and days beyond. The
median is the bucket's own minute under 15 minutes, else its midpoint: within half a bucket
(2.5 minutes up to an hour, 7.5 to 3 hours, 30 minutes to a day, 12 hours beyond).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from smsconsent import campaigns, errors, events

MAX_DAYS = 400  # a range's days at most (both ends included)
DEFAULT_DAYS = 30  # without ``from``: the 30 days up to ``to``
# A tenant-day keeps this many campaigns; the campaigns beyond are added up together
# (``OTHER``): the campaign is the tenant's string, and a sending system that names each
# message's campaign after the message must not grow a day without bound.
MAX_CAMPAIGNS_PER_DAY = 100
MAX_CAMPAIGN = campaigns.MAX_LABEL  # characters of a campaign's label
_MAX_LABEL = 64  # a via, keyword, reason or country kept as a counter's name

TOTALS = ("accepted", "sms_sent", "confirmed", "optouts", "lapsed", "expired", "erased")
# Counter prefix -> the key of ``optouts`` it is answered under.
DIMENSIONS = {"via": "by_via", "kw": "by_keyword", "why": "by_reason", "cc": "by_country"}
MINUTES = "min"
UNKNOWN = "unknown"

# Lower bounds (minutes) of the buckets of minutes to confirm; the last is open-ended.
BUCKETS: tuple[int, ...] = (
    tuple(range(0, 15))
    + tuple(range(15, 60, 5))
    + tuple(range(60, 180, 15))
    + tuple(range(180, 1440, 60))
    + tuple(range(1440, 30 * 1440 + 1, 1440))
)
_ENDS = (*BUCKETS[1:], BUCKETS[-1] + 1440)  # each bucket's upper end (the last: a day wide)


@dataclass(frozen=True)
class Counted:
    """What one consent event adds to its tenant's day: the counters of the day item, and
    the campaign whose opt-outs it adds to (None: none)."""

    event_id: str
    tenant: str
    day: str  # YYYY-MM-DD (UTC)
    counts: dict[str, int]
    campaign: str | None = None


@dataclass
class DayTally:
    """Events of one tenant-day added up: what one write adds to the day's items."""

    tenant: str
    day: str
    event_ids: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    campaigns: dict[str, int] = field(default_factory=dict)  # campaign -> opt-outs


def fold(tenant: str, day: str, counted: Iterable[Counted]) -> DayTally:
    """The events (all of ``tenant`` and ``day``) added up."""
    tally = DayTally(tenant, day)
    for one in counted:
        tally.event_ids.append(one.event_id)
        for name, n in one.counts.items():
            tally.counts[name] = tally.counts.get(name, 0) + n
        if one.campaign is not None:
            tally.campaigns[one.campaign] = tally.campaigns.get(one.campaign, 0) + 1
    return tally


def _utf8(value: str) -> str:
    """``value`` as DynamoDB can store it: a lone surrogate (no UTF-8 for it) becomes "?"."""
    return value.encode("utf-8", "replace").decode("utf-8")


def _label(value: Any) -> str:
    return _utf8(value[:_MAX_LABEL]) if isinstance(value, str) and value else UNKNOWN


def campaign_key(value: Any) -> str | None:
    """The campaign as counted (None: no campaign): its label (``campaigns.label``), never
    an email address or phone number a sender put in it, as insights items are not erased."""
    return campaigns.label_of(value)


def reason(data: Mapping[str, Any]) -> str:
    """Why an opt-out happened, from what its evidence keeps outside the personal part:
    a reason code when one was recorded; a provider's word; a keyword; a plain-language
    SMS ("please don't text me"); otherwise whether the person gave a reason (its words
    are personal and stay in the erasable part)."""
    code = data.get("reason_code")
    if isinstance(code, str) and code:
        return _label(code)
    via = data.get("via")
    if via in ("provider", "provider_opt_out", "provider_list"):
        return "provider"
    if data.get("keyword"):
        return "keyword"
    if via in ("sms_keyword", "provider_keyword"):
        return "plain_language"
    return "reason_given" if data.get("reason_given") else "no_reason"


def bucket(minutes: float) -> int:
    """The lower bound of the bucket ``minutes`` falls in."""
    found = 0
    for lower in BUCKETS:
        if minutes < lower:
            break
        found = lower
    return found


def _minutes(at: datetime, issued_at: Any) -> float | None:
    if not isinstance(issued_at, str):
        return None
    try:
        issued = datetime.strptime(issued_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None
    seconds = (at - issued).total_seconds()
    return seconds / 60 if seconds >= 0 else None


def count(tenant: str, subject_key: str, evidence: Mapping[str, Any]) -> Counted | None:
    """What the evidence event (``type``, ``at``, ``hash``, ``data``) adds to its tenant's
    day; None when it counts nowhere. Raises ``ValueError`` for a time that is not one."""
    kind = evidence["type"]
    if kind not in _COUNTED:
        return None
    at = datetime.strptime(evidence["at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    data: Mapping[str, Any] = evidence.get("data") or {}
    counts: dict[str, int] = dict.fromkeys(_COUNTED[kind], 1)
    campaign = None
    if kind == "optin_confirmed":
        minutes = _minutes(at, data.get("issued_at"))
        if minutes is not None:
            counts[f"{MINUTES}#{bucket(minutes)}"] = 1
    elif kind == "optout":
        counts[f"via#{_label(data.get('via'))}"] = 1
        if data.get("keyword"):
            counts[f"kw#{_label(data.get('keyword'))}"] = 1
        counts[f"why#{reason(data)}"] = 1
        counts[f"cc#{_label(data.get('country'))}"] = 1
        campaign = campaign_key(data.get("campaign"))
    event_id = events.event_id(tenant, subject_key, evidence["hash"])
    return Counted(event_id, tenant, at.date().isoformat(), counts, campaign)


# Evidence type -> the totals it adds to.
_COUNTED: dict[str, tuple[str, ...]] = {
    "optin_requested": ("accepted", "sms_sent"),
    "optin_repeated": ("accepted",),
    "optin_confirmed": ("confirmed",),
    "optout": ("optouts",),
    "consent_lapsed": ("lapsed",),
    "optin_expired": ("expired",),
    "erased": ("erased",),
}
TYPES = frozenset(_COUNTED)


# ---- the range asked for --------------------------------------------------------------------

PARAMETERS = ("from", "to")


def _day(params: Mapping[str, str], name: str) -> date | None:
    raw = params.get(name)
    if raw is None:
        return None
    try:
        if len(raw) != 10:
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError:
        raise errors.Invalid("invalid_field", f"{name} is a UTC day: YYYY-MM-DD", name) from None


def parse_range(params: Mapping[str, str], today: date) -> tuple[date, date]:
    """``from`` and ``to`` (UTC days, both included; ``to`` defaults to today, ``from`` to
    the 30 days up to ``to``); refuses an unknown parameter, a day that is not one, ``from``
    after ``to`` and a range over ``MAX_DAYS`` days."""
    for name in params:
        if name not in PARAMETERS:
            raise errors.Invalid("invalid_field", "unknown parameter: use from, to", name or "query")
    end = _day(params, "to") or today
    start = _day(params, "from") or end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise errors.Invalid("invalid_field", "from is after to", "from")
    if (end - start).days + 1 > MAX_DAYS:
        raise errors.Invalid("invalid_field", f"a range is at most {MAX_DAYS} days", "to")
    return start, end


# ---- the answer -------------------------------------------------------------------------------


def _ranked(counts: Mapping[str, int]) -> dict[str, int]:
    """Most first, then by name."""
    return {k: v for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if v > 0}


def median_minutes(histogram: Mapping[int, int]) -> float | None:
    """The median of the bucketed minutes to confirm (see the module's docstring)."""
    total = sum(n for n in histogram.values() if n > 0)
    if not total:
        return None
    values: list[float] = []
    # The middle one (odd) or the two middle ones (even), by rank from 1.
    wanted = sorted({(total + 1) // 2, total // 2 + 1})
    seen = 0
    for lower, end in zip(BUCKETS, _ENDS, strict=True):
        n = histogram.get(lower, 0)
        if n <= 0:
            continue
        value = float(lower) if end - lower == 1 else (lower + end) / 2
        values += [value for rank in wanted if seen < rank <= seen + n]
        seen += n
    return round(sum(values) / len(values), 1)


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def answer(start: date, end: date, rows: Iterable[tuple[str, Mapping[str, int]]]) -> dict[str, Any]:
    """The answer for the range from the items one Query read: ``(sk, counters)`` of the day
    items (``YYYY-MM-DD``), campaign items (``YYYY-MM-DD#C#<campaign>``) and the items of
    the campaigns beyond a day's ``MAX_CAMPAIGNS_PER_DAY`` (``YYYY-MM-DD#O``). Anything
    else the range holds (the campaign count) is passed over."""
    totals = dict.fromkeys(TOTALS, 0)
    dims: dict[str, dict[str, int]] = {key: {} for key in DIMENSIONS.values()}
    histogram: dict[int, int] = {}
    campaigns: dict[str | None, list[int]] = {}  # campaign (None: the others) -> [sends, opt-outs]
    daily = {
        (start + timedelta(days=i)).isoformat(): {"signups": 0, "confirmed": 0, "optouts": 0}
        for i in range((end - start).days + 1)
    }
    for sk, counters in rows:
        day, _, rest = sk.partition("#")
        if day not in daily:
            continue
        if rest.startswith("C#") or rest == "O":
            entry = campaigns.setdefault(rest[2:] if rest != "O" else None, [0, 0])
            entry[0] += int(counters.get("sends", 0))
            entry[1] += int(counters.get("optouts", 0))
            continue
        if rest:
            continue
        for name, value in counters.items():
            prefix, _, label = name.partition("#")
            if name in totals:
                totals[name] += int(value)
            elif prefix in DIMENSIONS and label:
                into = dims[DIMENSIONS[prefix]]
                into[label] = into.get(label, 0) + int(value)
            elif prefix == MINUTES and label.isdigit():
                histogram[int(label)] = histogram.get(int(label), 0) + int(value)
        daily[day]["signups"] += int(counters.get("accepted", 0))
        daily[day]["confirmed"] += int(counters.get("confirmed", 0))
        daily[day]["optouts"] += int(counters.get("optouts", 0))
    # Highest rate first (those without sends last), then most opt-outs, sends, by name.
    ranked = sorted(
        ((name, sends, optouts, _rate(optouts, sends)) for name, (sends, optouts) in campaigns.items()),
        key=lambda c: (c[3] is None, -(c[3] or 0.0), -c[2], -c[1], c[0] or ""),
    )
    by_campaign = [
        {"campaign": name, "sends": sends, "optouts": optouts, "rate": rate}
        for name, sends, optouts, rate in ranked
        if sends or optouts
    ]
    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "signups": {
            "accepted": totals["accepted"],
            "sms_sent": totals["sms_sent"],
            "confirmed": totals["confirmed"],
            "confirm_rate": _rate(totals["confirmed"], totals["sms_sent"]),
            "median_minutes_to_confirm": median_minutes(histogram),
        },
        "optouts": {
            "total": totals["optouts"],
            **{key: _ranked(values) for key, values in dims.items()},
            "by_campaign": by_campaign,
        },
        "lapsed": totals["lapsed"],
        "expired": totals["expired"],
        "erased": totals["erased"],
        "daily": [{"date": day, **values} for day, values in daily.items()],
    }


def over_threshold(sends: int, optouts: int, percent: float, min_sends: int) -> bool:
    """Whether a campaign's opt-out rate passes the tenant's alarm threshold: more than
    ``percent`` per cent of its sends, once it has ``min_sends``."""
    return sends >= min_sends and sends > 0 and optouts * 100 > percent * sends
