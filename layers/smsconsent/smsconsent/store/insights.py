"""Insights' items: counters per tenant and UTC day, only ever added to (``ADD``), and a
marker per consent event counted, so none is counted twice.

Keys (every item of a tenant's insights under one ``pk``, so a range is one Query):
  INSIGHTS#<tenant> / <YYYY-MM-DD>              the day's counters from its consent events
  INSIGHTS#<tenant> / <YYYY-MM-DD>#C#<campaign> a campaign's sends and opt-outs that day
  INSIGHTS#<tenant> / <YYYY-MM-DD>#O            the same for the campaigns beyond the day's
                                                ``MAX_CAMPAIGNS_PER_DAY``, added up together
  INSIGHTS#<tenant> / <YYYY-MM-DD>#N            how many campaigns the day keeps
  TALLIED#<event id> / TALLIED                   a consent event counted (kept 7 days: the
                                                stream hands a record over for 24 hours)

Exactly once: the events of one tenant-day are counted in one ``TransactWriteItems`` that
puts each event's marker (only if absent) and adds the events' sum to the day's counters.
A redelivered record, a retried batch or two consumers racing find the marker and count
nothing; a crash before the commit counts nothing, after it everything. A transaction
holds at most 100 items (``TRANSACTION_ITEMS``): the markers, the day item and one item per
campaign; a batch of a hundred events of one tenant-day is two or three transactions.

Hot items: one write per (batch, tenant-day) to the day item, which stays small (tens of
counters as a rule: vias, keywords, countries, minute buckets; a few hundred at most, a few
KB; campaigns have items of their own), so a write costs a few write units, twice that in
a transaction. One item takes 1,000 write units a second: a hundred or more transactions
of up to 99 events each, over ten thousand events a second for one tenant's day. Campaign
sends are one ``ADD`` per pre-send request and campaign (1 write unit), not per recipient.

Aggregates hold no number and no personal data, and are kept (no TTL).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from smsconsent import insights, settings
from smsconsent.store import models
from smsconsent.store.errors import StoreUnavailable

TRANSACTION_ITEMS = 100  # DynamoDB's limit of items in one TransactWriteItems
# Counters one update adds to: "ADD #a0 :a0, ..." stays under an update expression's 4 KB.
MAX_COUNTERS = 200
MARKER_DAYS = 7
ATTEMPTS = 8  # rounds of one tenant-day's transaction (duplicates dropped, campaigns admitted)
CONDITION_FAILED = "ConditionalCheckFailed"
OTHER = "O"  # the sk suffix of the campaigns beyond a day's limit

# Replaced by tests so retries do not wait.
sleep: Callable[[float], None] = time.sleep


def pk(tenant: str) -> str:
    return f"INSIGHTS#{tenant}"


def _client() -> Any:
    return models.connection().client


def _table() -> str:
    return settings.get().table_name


def _key(tenant: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk(tenant)}, "sk": {"S": sk}}


def _campaign_sk(day: str, campaign: str | None) -> str:
    return f"{day}#{OTHER}" if campaign is None else f"{day}#C#{campaign}"


def _adds(counts: dict[str, int]) -> dict[str, Any]:
    """``ADD`` of every counter, as an update's expression, names and values."""
    names = {f"#a{i}": name for i, name in enumerate(counts)}
    values = {f":a{i}": {"N": str(n)} for i, n in enumerate(counts.values())}
    return {
        "UpdateExpression": "ADD " + ", ".join(f"#a{i} :a{i}" for i in range(len(counts))),
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }


def _reasons(exc: ClientError) -> list[str | None]:
    found = exc.response.get("CancellationReasons") or []
    return [r.get("Code") if isinstance(r, dict) else None for r in found]


def _unavailable(exc: Exception) -> StoreUnavailable:
    code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else None
    return StoreUnavailable(f"{type(exc).__name__}: {code or exc}")


def _transact(items: list[dict[str, Any]]) -> list[str | None] | None:
    """Run the transaction: None when it committed, else its cancellation reasons (one per
    item). Anything but a cancellation is ``StoreUnavailable``."""
    try:
        _client().transact_write_items(TransactItems=items)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
            raise _unavailable(exc) from exc
        reasons = _reasons(exc)
        return reasons if len(reasons) == len(items) else [None] * len(items)
    except BotoCoreError as exc:
        raise _unavailable(exc) from exc
    return None


def _backoff(attempt: int) -> None:
    sleep(random.uniform(0, min(1.0, 0.05 * 2**attempt)))


# ---- counting consent events ----------------------------------------------------------------


def chunks(counted: Sequence[insights.Counted]) -> list[list[insights.Counted]]:
    """Consecutive chunks of one tenant-day's events, each fitting one transaction: its
    markers, the day item and one item per campaign, and at most ``MAX_COUNTERS`` counters."""
    out: list[list[insights.Counted]] = []
    campaigns: set[str] = set()
    names: set[str] = set()
    for one in counted:
        new_campaign = one.campaign is not None and one.campaign not in campaigns
        items = len(out[-1]) + 1 + len(campaigns) + 1 + new_campaign if out else 0
        if not out or items > TRANSACTION_ITEMS or len(names | one.counts.keys()) > MAX_COUNTERS:
            out.append([])
            campaigns, names = set(), set()
        out[-1].append(one)
        names |= one.counts.keys()
        if one.campaign is not None:
            campaigns.add(one.campaign)
    return out


def add(tenant: str, day: str, counted: Sequence[insights.Counted], now: datetime) -> list[insights.Counted]:
    """Count ``counted`` (events of ``tenant`` on ``day``, one chunk of ``chunks``) once each:
    the events not counted before, now counted. Raises ``StoreUnavailable`` (nothing of the
    round that failed is counted; what earlier calls counted stays counted)."""
    todo = list(counted)
    beyond: set[str] = set()  # campaigns the day has no room for
    ttl = {"N": str(int((now + timedelta(days=MARKER_DAYS)).timestamp()))}
    for attempt in range(ATTEMPTS):
        if not todo:
            return []
        tally = insights.fold(tenant, day, todo)
        markers = [
            {
                "Put": {
                    "TableName": _table(),
                    "Item": {"pk": {"S": f"TALLIED#{event_id}"}, "sk": {"S": "TALLIED"}, "ttl": ttl},
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
            for event_id in tally.event_ids
        ]
        day_item = {"TableName": _table(), "Key": _key(tenant, day), **_adds(tally.counts)}
        items = [*markers, {"Update": day_item}]
        per_campaign: dict[str | None, int] = {}
        for campaign, n in tally.campaigns.items():
            kept = None if campaign in beyond else campaign
            per_campaign[kept] = per_campaign.get(kept, 0) + n
        for name, n in per_campaign.items():
            update = {"TableName": _table(), "Key": _key(tenant, _campaign_sk(day, name))}
            update |= _adds({"optouts": n})
            if name is not None:  # admitted (see ``_admit``): the day's campaigns stay bounded
                update |= {"ConditionExpression": "attribute_exists(pk)"}
            items.append({"Update": update})
        reasons = _transact(items)
        if reasons is None:
            return todo
        seen = {tally.event_ids[i] for i, r in enumerate(reasons[: len(markers)]) if r == CONDITION_FAILED}
        unknown = [
            name
            for name, r in zip(per_campaign, reasons[len(markers) + 1 :], strict=True)
            if name is not None and r == CONDITION_FAILED
        ]
        if not seen and not unknown:
            _backoff(attempt)  # another writer had the items (TransactionConflict): again
            continue
        todo = [c for c in todo if c.event_id not in seen]
        for campaign in unknown:
            if not _admit(tenant, day, campaign):
                beyond.add(campaign)
    raise StoreUnavailable(f"insights of {tenant} on {day} kept conflicting")


def _admit(tenant: str, day: str, campaign: str) -> bool:
    """Give ``campaign`` an item of its own on ``day`` if it has none and the day keeps fewer
    than ``MAX_CAMPAIGNS_PER_DAY``; False when the day is full (it is counted with the
    others). Creating an empty item counts nothing, so it needs no marker."""
    zero = {"N": "0"}
    items = [
        {
            "Update": {
                "TableName": _table(),
                "Key": _key(tenant, f"{day}#N"),
                "UpdateExpression": "ADD #n :one",
                "ConditionExpression": "attribute_not_exists(#n) OR #n < :max",
                "ExpressionAttributeNames": {"#n": "n"},
                "ExpressionAttributeValues": {
                    ":one": {"N": "1"},
                    ":max": {"N": str(insights.MAX_CAMPAIGNS_PER_DAY)},
                },
            }
        },
        {
            "Put": {
                "TableName": _table(),
                "Item": {**_key(tenant, _campaign_sk(day, campaign)), "sends": zero, "optouts": zero},
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        },
    ]
    for attempt in range(ATTEMPTS):
        reasons = _transact(items)
        if reasons is None or reasons[1] == CONDITION_FAILED:
            return True  # admitted now, or before
        if reasons[0] == CONDITION_FAILED:
            return False
        _backoff(attempt)
    raise StoreUnavailable(f"a campaign of {tenant} on {day} kept conflicting")


# ---- campaign sends ---------------------------------------------------------------------------


def add_sends(tenant: str, campaign: str, day: date, sends: int) -> None:
    """Add ``sends`` recorded sends of ``campaign`` on ``day``: one ``ADD``."""
    name: str | None = insights.campaign_key(campaign)
    for _ in range(3):
        update: dict[str, Any] = {
            "TableName": _table(),
            "Key": _key(tenant, _campaign_sk(day.isoformat(), name)),
            **_adds({"sends": sends}),
        }
        if name is not None:
            update["ConditionExpression"] = "attribute_exists(pk)"
        try:
            _client().update_item(**update)
            return
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise _unavailable(exc) from exc
        except BotoCoreError as exc:
            raise _unavailable(exc) from exc
        assert name is not None
        if not _admit(tenant, day.isoformat(), name):
            name = None
    raise StoreUnavailable(f"the sends of a campaign of {tenant} kept conflicting")


# ---- reading ----------------------------------------------------------------------------------


def _numbers(item: dict[str, Any]) -> dict[str, int]:
    return {name: int(value["N"]) for name, value in item.items() if isinstance(value, dict) and "N" in value}


def read(tenant: str, start: date, end: date) -> list[tuple[str, dict[str, int]]]:
    """Every insights item of ``tenant`` from ``start`` to ``end`` (days included): one Query
    (paged by DynamoDB at 1 MB), eventually consistent."""
    request: dict[str, Any] = {
        "TableName": _table(),
        "KeyConditionExpression": "#pk = :pk AND #sk BETWEEN :lo AND :hi",
        "ExpressionAttributeNames": {"#pk": "pk", "#sk": "sk"},
        # "$" sorts right after "#": the last day's items and nothing of the next day.
        "ExpressionAttributeValues": {
            ":pk": {"S": pk(tenant)},
            ":lo": {"S": start.isoformat()},
            ":hi": {"S": end.isoformat() + "$"},
        },
    }
    rows: list[tuple[str, dict[str, int]]] = []
    try:
        while True:
            answer = _client().query(**request)
            rows += [(item["sk"]["S"], _numbers(item)) for item in answer.get("Items", ())]
            last = answer.get("LastEvaluatedKey")
            if not last:
                return rows
            request["ExclusiveStartKey"] = last
    except (ClientError, BotoCoreError) as exc:
        raise _unavailable(exc) from exc


def campaign_totals(tenant: str, campaign: str, days: Sequence[str]) -> tuple[int, int]:
    """``(sends, opt-outs)`` of ``campaign`` over ``days``, strongly consistent."""
    keys = [_key(tenant, _campaign_sk(day, campaign)) for day in dict.fromkeys(days)]
    request: dict[str, Any] = {_table(): {"Keys": keys, "ConsistentRead": True}}
    sends = optouts = 0
    try:
        for attempt in range(ATTEMPTS):
            answer = _client().batch_get_item(RequestItems=request)
            for item in answer.get("Responses", {}).get(_table(), ()):
                numbers = _numbers(item)
                sends += numbers.get("sends", 0)
                optouts += numbers.get("optouts", 0)
            request = answer.get("UnprocessedKeys") or {}
            if not request.get(_table(), {}).get("Keys"):
                return sends, optouts
            _backoff(attempt)
    except (ClientError, BotoCoreError) as exc:
        raise _unavailable(exc) from exc
    raise StoreUnavailable("BatchGetItem left keys unprocessed")
