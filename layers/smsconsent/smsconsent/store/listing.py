"""A tenant's subjects, shard by shard in key order, from the ``tenant-index``: what the
export of consents pages through (``smsconsent.exporting``), never a table Scan.

One Query per call, in plain botocore on the pre-send reader's client (``store.batch``):
the items come back as DynamoDB's JSON, the consents parsed with orjson, without a
pynamodb object per subject. Index reads are eventually consistent: a change of the last
second may not show yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from botocore.exceptions import BotoCoreError, ClientError

from smsconsent import settings
from smsconsent.records import ConsentRecord, subject_pk
from smsconsent.store import batch
from smsconsent.store.errors import StoreUnavailable
from smsconsent.store.models import TenantIndex
from smsconsent.store.subjects import SHARDS

INDEX = TenantIndex.Meta.index_name
# What the export reads of each subject: its key, its number and its consents.
_NAMES = {"#pk": "pk", "#ph": "phone", "#c": "consents", "#ts": "tenant_shard"}
_PROJECTION = "#pk, #ph, #c"


@dataclass(frozen=True, slots=True)
class Listed:
    """A subject as the ``tenant-index`` holds it."""

    pk: str
    phone: str | None
    consents: dict[str, ConsentRecord]


def _listed(item: dict[str, Any]) -> Listed:
    phone = item.get("phone")
    consents = item.get("consents")
    return Listed(
        item["pk"]["S"],
        phone.get("S") if phone else None,
        orjson.loads(consents["S"]) if consents and "S" in consents else {},
    )


def shard_subjects(
    tenant: str, shard: int, after: str | None, *, including: bool, limit: int
) -> tuple[list[Listed], bool]:
    """Up to ``limit`` subjects of the tenant's shard (0 to 15) in key order, from the
    subject key ``after`` on (``including`` it, or after it; None: from the first), and
    whether the shard may hold more after the last one returned. One Query request."""
    values: dict[str, Any] = {":ts": {"S": f"{tenant}#{SHARDS[shard]}"}}
    condition = "#ts = :ts"
    if after is not None:
        values[":pk"] = {"S": subject_pk(tenant, after)}
        condition += " AND #pk >= :pk" if including else " AND #pk > :pk"
    try:
        answer = batch.client().query(
            TableName=settings.get().table_name,
            IndexName=INDEX,
            KeyConditionExpression=condition,
            ProjectionExpression=_PROJECTION,
            ExpressionAttributeNames=_NAMES,
            ExpressionAttributeValues=values,
            Limit=limit,
        )
    except (ClientError, BotoCoreError) as exc:
        code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else None
        raise StoreUnavailable(f"{type(exc).__name__}: {code or exc}") from exc
    items = [_listed(item) for item in answer.get("Items") or ()]
    # Without a filter, DynamoDB stops early only with items in hand (Limit or 1 MB).
    return items, bool(items and answer.get("LastEvaluatedKey"))


def last_contacts(pks: list[str]) -> dict[str, str | None]:
    """Each subject's last recorded marketing contact (None: none, or the subject is gone),
    in BatchGetItem requests of 100 issued concurrently (``store.batch.read``), eventually
    consistent as the index is."""
    found = batch.read(pks, consistent=False)
    return {pk: (found[pk].last_contact_at if pk in found else None) for pk in pks}
