"""Insights counted from the consent events: the table's stream in (the evidence items, as
the publisher reads them), each event counted once into its tenant's day
(``store.insights``); and the answer of ``GET /v1/{tenant}/insights`` read back.

A batch is counted per tenant-day, a transaction per chunk. When a chunk fails, every
record from its first on is handed back (the stream's checkpoint) and comes again: the
chunks counted already are found counted (their events' markers) and add nothing. Only a
record that cannot be read is passed over, logged, as the publisher does.

Beside the counts, the business metrics of the dashboard (``SignupsAccepted``, ``OptOuts``
by via, ``OptOutKeywords`` by keyword) are written for the events counted now, and an
opt-out blamed on a campaign whose opt-out rate over the last ``ALARM_DAYS`` days passes the
tenant's threshold writes ``CampaignOptOutRateHigh`` (by tenant), what the alarms watch.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from smsconsent import clock, insights, metrics, tenants
from smsconsent.observability import logger
from smsconsent.store import insights as insights_store
from smsconsent.tenants import SLUG

ALARM_DAYS = 7  # a campaign's rate: its sends and opt-outs of the last 7 days to the opt-out's
_MAX_PK_BYTES = 2048

# What reading a record can raise when it is not as the table's stream writes it.
_UNREADABLE = (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError, RecursionError)


def _text(image: dict[str, Any], name: str) -> str | None:
    if name not in image:
        return None
    value = image[name]["S"]
    if not isinstance(value, str):
        raise ValueError(f"{name} is not a string")
    return value


def counted_of(record: dict[str, Any]) -> insights.Counted | None:
    """What the evidence a stream record inserted adds to its tenant's day (None: any other
    record, or evidence that counts nowhere). Raises when the record cannot be read."""
    if record["eventName"] != "INSERT":
        return None
    change = record["dynamodb"]
    if not isinstance(change["SequenceNumber"], str):  # a record handed back is named by it
        raise ValueError("no sequence number")
    image = change["NewImage"]
    pk, sk = _text(image, "pk"), _text(image, "sk")
    if not (pk and pk.startswith("SUBJ#") and sk and sk.startswith(("EV#", "OUT#"))):
        return None
    kind = _text(image, "type")
    if kind not in insights.TYPES:
        return None
    _, tenant, _ = pk.split("#", 2)
    if not SLUG.match(tenant) or len(pk.encode()) > _MAX_PK_BYTES:
        raise ValueError("not a subject's key")
    data = json.loads(_text(image, "data") or "{}")
    at, digest = _text(image, "at"), _text(image, "hash")
    if not isinstance(data, dict) or not at or not digest:
        raise ValueError("no data, time or hash")
    # The subject's key as the publisher names it: the count's id is the event's id.
    evidence = {"type": kind, "at": at, "hash": digest, "data": data}
    return insights.count(tenant, pk.rsplit("#", 1)[-1], evidence)


def _read(index: int, record: Any) -> insights.Counted | None:
    try:
        return counted_of(record)
    except _UNREADABLE as exc:  # the record's own fault: handed back, it would never count
        logger.error("unreadable stream record skipped", extra={"index": index, "error": type(exc).__name__})
        return None


def tally(records: Sequence[Any]) -> int | None:
    """Count the batch's consent events, each once; the index of the first record not
    counted (None: all), from which the batch is to be handed again."""
    groups: dict[tuple[str, str], list[tuple[int, insights.Counted]]] = {}
    seen: set[str] = set()
    for index, record in enumerate(records):
        found = _read(index, record)
        # A record the stream delivered twice in one batch is counted with its first copy
        # (and one transaction may name an item only once).
        if found is not None and found.event_id not in seen:
            seen.add(found.event_id)
            groups.setdefault((found.tenant, found.day), []).append((index, found))
    todo: list[tuple[str, str, list[tuple[int, insights.Counted]]]] = []
    for (tenant, day), group in groups.items():
        start = 0
        for part in insights_store.chunks([c for _, c in group]):
            todo.append((tenant, day, group[start : start + len(part)]))
            start += len(part)
    for n, (tenant, day, pairs) in enumerate(todo):
        try:
            new = insights_store.add(tenant, day, [c for _, c in pairs], clock.now())
        except Exception:  # an outage or throttling: from this chunk's first record, again
            logger.exception("insights not counted; the batch is handed again from this record")
            return min(i for _, _, rest in todo[n:] for i, _ in rest)
        if new:
            _signal(tenant, day, new)
    return None


def _signal(tenant: str, day: str, new: list[insights.Counted]) -> None:
    """The dashboard's metrics for the events counted now, and the campaign alarm."""
    added = insights.fold(tenant, day, new)
    if added.counts.get("accepted"):
        metrics.count("SignupsAccepted", added.counts["accepted"])
    for name, n in added.counts.items():
        prefix, _, label = name.partition("#")
        if prefix == "via":
            metrics.count("OptOuts", n, via=label)
        elif prefix == "kw":
            metrics.count("OptOutKeywords", n, keyword=label)
    if added.campaigns:
        _check_campaigns(tenant, date.fromisoformat(day), sorted(added.campaigns))


def _check_campaigns(tenant_id: str, day: date, campaigns: list[str]) -> None:
    try:
        tenant = tenants.get(tenant_id)
    except tenants.TenantError:
        return  # refused everywhere else too; its events are counted all the same
    if tenant is None:
        return
    percent, min_sends = tenant.optout_alarm_percent, tenant.optout_alarm_min_sends
    days = [(day - timedelta(days=i)).isoformat() for i in range(ALARM_DAYS)]
    for campaign in campaigns:
        try:
            sends, optouts = insights_store.campaign_totals(tenant_id, campaign, days)
        except Exception:  # counted already: only the alarm's look is lost, the next opt-out looks again
            logger.exception("campaign opt-out rate not checked")
            continue
        if insights.over_threshold(sends, optouts, percent, min_sends):
            metrics.count("CampaignOptOutRateHigh", 1, tenant=tenant_id)
            logger.warning(
                "campaign opt-out rate over the tenant's threshold",  # the campaign is the tenant's name
                extra={
                    "tenant": tenant_id,
                    "campaign": campaign,
                    "sends": sends,
                    "optouts": optouts,
                    "percent": percent,
                    "days": ALARM_DAYS,
                },
            )


def report(tenant_id: str, params: dict[str, str]) -> dict[str, Any]:
    """The insights answer for the range ``params`` asks for (``insights.parse_range``)."""
    start, end = insights.parse_range(params, clock.now().date())
    return insights.answer(start, end, insights_store.read(tenant_id, start, end))
