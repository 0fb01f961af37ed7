"""Give subjects written before the tenant-index (and the sms-optout-index) existed the
attributes those indexes are keyed by: a one-off migration.

    python -m tools.backfill_indexes --table <TableName output of the stack> [--dry-run]
    make backfill TABLE=<TableName output of the stack> [DRY_RUN=1]

Run it once after the deploy that adds the indexes: from then on every write of a subject
sets them itself, and the export of consents (GET /v1/{tenant}/consents) reads only the
index, so a subject the backfill has not reached yet is not exported.

It is the one place that Scans the table, once, as a migration: every item is read (a
1 MB page at a time, only the few attributes it needs), and each subject whose
``tenant_shard`` or ``sms_optout`` is missing or wrong gets them with one UpdateItem,
conditional on the subject's version as read. A subject changed meanwhile is read again
and decided again, never overwritten; the version is left as it is (this changes no
consent), so no concurrent writer loses its race to the backfill. Nothing else of the
item is touched, and no consent event is published (the stream's publisher takes new
evidence items only). Running it again changes only what is still wrong; ``--dry-run``
counts what it would change.

Uses the usual AWS credentials and region (AWS_PROFILE, AWS_REGION); DYNAMODB_ENDPOINT
points it at another DynamoDB-compatible endpoint (DynamoDB Local, say).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from collections.abc import Iterator
from typing import Any

import tools

ATTEMPTS = 5  # reads and conditional updates of one subject that keeps changing
_NAMES = {
    "#pk": "pk",
    "#sk": "sk",
    "#t": "tenant",
    "#c": "consents",
    "#pl": "provider_list",
    "#v": "version",
    "#ts": "tenant_shard",
    "#so": "sms_optout",
}
_PROJECTION = ", ".join(_NAMES)


def wanted(item: dict[str, Any]) -> tuple[str, str | None]:
    """The ``tenant_shard`` and ``sms_optout`` a subject item (DynamoDB JSON) should have, as
    ``store.subjects`` computes them on every write."""
    from smsconsent.store.subjects import shard_of, sms_optout_of

    pk = item["pk"]["S"]
    tenant = item.get("tenant", {}).get("S") or pk.split("#")[1]
    consents = json.loads(item.get("consents", {}).get("S") or "{}")
    provider_list = json.loads(item.get("provider_list", {}).get("S") or "{}")
    return shard_of(tenant, pk), sms_optout_of(tenant, pk, consents, bool(provider_list.get("held")))


def _has(item: dict[str, Any], name: str) -> str | None:
    value = item.get(name)
    return value.get("S") if value else None


def _update(client: Any, table: str, item: dict[str, Any], shard: str, optout: str | None) -> bool:
    """Set the two attributes, if the subject is still the version read; False when it
    changed (or went) meanwhile."""
    values: dict[str, Any] = {":ts": {"S": shard}}
    expression = "SET #ts = :ts"
    if optout is not None:
        expression += ", #so = :so"
        values[":so"] = {"S": optout}
    else:
        expression += " REMOVE #so"
    # Still the item read: its version, and what the attributes are computed from (a
    # subject deleted and made anew since could have the same version).
    conditions = ["attribute_exists(#pk)"]
    for name, placeholder in (("#v", ":v"), ("#c", ":c"), ("#pl", ":pl")):
        value = item.get(_NAMES[name])
        if value is None:
            conditions.append(f"attribute_not_exists({name})")
        else:
            conditions.append(f"{name} = {placeholder}")
            values[placeholder] = value
    try:
        client.update_item(
            TableName=table,
            Key={"pk": item["pk"], "sk": item["sk"]},
            UpdateExpression=expression,
            ConditionExpression=" AND ".join(conditions),
            ExpressionAttributeNames={k: v for k, v in _NAMES.items() if k not in ("#sk", "#t")},
            ExpressionAttributeValues=values,
        )
    except client.exceptions.ConditionalCheckFailedException:
        return False
    return True


def _subjects(client: Any, table: str, counts: Counter[str]) -> Iterator[dict[str, Any]]:
    """Every subject item of the table: a Scan, the migration's one."""
    start: dict[str, Any] | None = None
    while True:
        page = client.scan(
            TableName=table,
            ProjectionExpression=_PROJECTION,
            FilterExpression="#sk = :subject",
            ExpressionAttributeNames=_NAMES,
            ExpressionAttributeValues={":subject": {"S": "SUBJECT"}},
            **({"ExclusiveStartKey": start} if start else {}),
        )
        counts["items_scanned"] += int(page.get("ScannedCount", 0))
        yield from page.get("Items") or ()
        start = page.get("LastEvaluatedKey")
        if not start:
            return


def backfill(client: Any, table: str, *, dry_run: bool = False) -> dict[str, int]:
    """Backfill every subject of ``table``; the counts: ``subjects``, ``updated`` (or
    would be, with ``dry_run``), ``unchanged``, ``raced`` (changed meanwhile, decided
    again), ``gone`` (deleted meanwhile), ``items_scanned``."""
    counts: Counter[str] = Counter()
    for item in _subjects(client, table, counts):
        counts["subjects"] += 1
        for _ in range(ATTEMPTS):
            shard, optout = wanted(item)
            if _has(item, "tenant_shard") == shard and _has(item, "sms_optout") == optout:
                counts["unchanged"] += 1
                break
            if dry_run or _update(client, table, item, shard, optout):
                counts["updated"] += 1
                break
            counts["raced"] += 1
            again = client.get_item(
                TableName=table,
                Key={"pk": item["pk"], "sk": item["sk"]},
                ConsistentRead=True,
                ProjectionExpression=_PROJECTION,
                ExpressionAttributeNames=_NAMES,
            ).get("Item")
            if again is None:
                counts["gone"] += 1
                break
            item = again
        else:
            raise RuntimeError(f"a subject kept changing over {ATTEMPTS} attempts: run the backfill again")
    return {k: counts[k] for k in ("subjects", "updated", "unchanged", "raced", "gone", "items_scanned")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="make backfill", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--table", help="DynamoDB table name (default: $TABLE_NAME)")
    parser.add_argument("--dry-run", action="store_true", help="count what would change; write nothing")
    args = parser.parse_args(argv)
    table = args.table or os.environ.get("TABLE_NAME")
    if not table:
        print("name the table: make backfill TABLE=<TableName output of the stack>", file=sys.stderr)
        return 2
    client = tools.dynamodb()
    try:
        counts = backfill(client, table, dry_run=args.dry_run)
    except Exception as exc:
        print(f"backfill of {table} stopped: {type(exc).__name__}: {exc}; run it again", file=sys.stderr)
        return 1
    print(json.dumps({"table": table, "dry_run": args.dry_run, **counts}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
