"""Give insights items written before campaign labels their campaign's label: a one-off
migration.

    python -m tools.relabel_campaigns --table <TableName> --tenant demo [--tenant ...] [--dry-run]

Insights items are kept (no TTL), and before labels a campaign item's sort key was the
campaign id as the sending system sent it, an email address or a phone number included.
Each tenant's insights partition is read with one Query (paged), and each campaign item
whose campaign is not its own label is folded into the label's item of the same day (made
when the day has none; into the day's others when nothing is left of the id) and deleted,
in one transaction conditional on the counters as read: a count that moved meanwhile is
read again. The day's count of campaigns (``#N``) drops by one when two items become one.
Nothing is published and no event is counted twice; running it again changes nothing more;
``--dry-run`` counts what it would change. Evidence keeps the campaign as it was sent: its
data is in the hash chain, and rewriting it would break the proof (see docs/behaviour.md,
Campaign labels).

Uses the usual AWS credentials and region (AWS_PROFILE, AWS_REGION); DYNAMODB_ENDPOINT
points it at another DynamoDB-compatible endpoint (DynamoDB Local, say).
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Iterator
from typing import Any

import tools

ATTEMPTS = 5  # reads and conditional writes of one item whose counts keep moving
COUNTERS = ("sends", "optouts")


def _items(client: Any, table: str, tenant: str) -> Iterator[dict[str, Any]]:
    """The tenant's campaign items, one Query paged."""
    request: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": f"INSIGHTS#{tenant}"}},
        "ConsistentRead": True,
    }
    while True:
        answer = client.query(**request)
        for item in answer.get("Items", ()):
            if "#C#" in item["sk"]["S"]:
                yield item
        if not answer.get("LastEvaluatedKey"):
            return
        request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]


def _counts(item: dict[str, Any]) -> dict[str, int]:
    return {name: int(item[name]["N"]) if name in item else 0 for name in COUNTERS}


def _fold(client: Any, table: str, item: dict[str, Any], target: str) -> bool:
    """Add ``item``'s counters to ``target`` (a sort key of the same partition) and delete
    ``item``, in one transaction; False when ``item`` or ``target`` changed meanwhile."""
    from botocore.exceptions import ClientError

    pk, sk = item["pk"]["S"], item["sk"]["S"]
    day = sk.split("#", 1)[0]
    names = {f"#{n}": n for n in COUNTERS}
    values = {f":{n}": {"N": str(v)} for n, v in _counts(item).items()}
    exists = "Item" in client.get_item(
        TableName=table, Key={"pk": {"S": pk}, "sk": {"S": target}}, ConsistentRead=True
    )
    unchanged = " AND ".join(f"(attribute_not_exists(#{n}) OR #{n} = :{n})" for n in COUNTERS)
    transaction: list[dict[str, Any]] = [
        {
            "Delete": {
                "TableName": table,
                "Key": {"pk": {"S": pk}, "sk": {"S": sk}},
                "ConditionExpression": f"attribute_exists(pk) AND {unchanged}",
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values,
            }
        },
        {
            "Update": {
                "TableName": table,
                "Key": {"pk": {"S": pk}, "sk": {"S": target}},
                "UpdateExpression": "ADD " + ", ".join(f"#{n} :{n}" for n in COUNTERS),
                # Made here only when the day has no item of the label yet; else added to.
                "ConditionExpression": "attribute_exists(pk)" if exists else "attribute_not_exists(pk)",
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values,
            }
        },
    ]
    if exists or target.endswith("#O"):
        # Two items become one (the others are no campaign of their own): one campaign less.
        transaction.append(
            {
                "Update": {
                    "TableName": table,
                    "Key": {"pk": {"S": pk}, "sk": {"S": f"{day}#N"}},
                    "UpdateExpression": "ADD #n :minus",
                    "ConditionExpression": "#n > :zero",
                    "ExpressionAttributeNames": {"#n": "n"},
                    "ExpressionAttributeValues": {":minus": {"N": "-1"}, ":zero": {"N": "0"}},
                }
            }
        )
    try:
        client.transact_write_items(TransactItems=transaction)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
            raise
        return False
    return True


def relabel(client: Any, table: str, tenants: list[str], *, dry_run: bool = False) -> dict[str, int]:
    """Fold every campaign item of ``tenants`` whose campaign is not its own label into the
    label's item; what was seen and done."""
    from smsconsent import campaigns

    counts: Counter[str] = Counter()
    for tenant in tenants:
        for item in _items(client, table, tenant):
            counts["campaign items"] += 1
            day, _, raw = item["sk"]["S"].partition("#C#")
            name = campaigns.label_of(raw)
            if name == raw:
                continue
            counts["to relabel"] += 1
            if dry_run:
                continue
            target = f"{day}#C#{name}" if name is not None else f"{day}#O"
            for _ in range(ATTEMPTS):
                if _fold(client, table, item, target):
                    counts["relabelled"] += 1
                    break
                key = {"pk": item["pk"], "sk": item["sk"]}
                again = client.get_item(TableName=table, Key=key, ConsistentRead=True)
                if "Item" not in again:
                    break  # folded by another run meanwhile
                item = again["Item"]
            else:
                counts["kept changing"] += 1
    return dict(counts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--table", required=True)
    parser.add_argument("--tenant", action="append", required=True, help="a tenant id (repeat for more)")
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args(argv)
    client = tools.dynamodb()
    print(relabel(client, args.table, args.tenant, dry_run=args.dry_run))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
