"""The only package that knows DynamoDB: pynamodb models on one table and the access
patterns the domain needs. Everything callers use is here (``store.load_subject``, ...).

The modules: ``models`` (the items, the shared connection, ``bind``), ``errors`` (the
domain's exceptions and the one guard mapping pynamodb's onto them), ``subjects``
(subjects and their evidence: load, commit, rewrite, due), ``lookups`` (tenant documents,
inbound numbers, tokens, opt-out codes, provider messages handled), ``webhooks``
(subscriptions and delivery attempts), ``counters`` (rate
counters, the resend cooldown, the retention job's cursor) and ``batch`` (the pre-send
check's bulk reader, in plain botocore). The domain records themselves are
``smsconsent.records``, re-exported here.
"""

from smsconsent.records import ConsentRecord, Evidence, PendingOptIn, Subject, new_subject, subject_pk
from smsconsent.store.counters import (
    count_hit,
    count_undo,
    job_cursor,
    last_sms_at,
    set_job_cursor,
    set_last_sms,
    window_end,
)
from smsconsent.store.errors import Conflict, NumberTaken, StoreUnavailable
from smsconsent.store.lookups import (
    delete_code,
    get_code,
    get_tenant_doc,
    get_token,
    message_answer,
    put_tenant_doc,
    remember_message,
    tenant_of_number,
)
from smsconsent.store.models import (
    MODELS,
    CodeItem,
    CounterItem,
    DeliveryItem,
    DueIndex,
    EvidenceItem,
    InboundNumberItem,
    JobItem,
    LastSmsItem,
    MessageItem,
    SubjectItem,
    TenantItem,
    TokenItem,
    WebhookItem,
    bind,
)
from smsconsent.store.subjects import (
    Change,
    commit,
    due_subjects,
    evidence_of,
    load_subject,
    load_subject_by_pk,
    mark_sms_sent,
    phones_of,
    rewrite,
)
from smsconsent.store.webhooks import (
    Attempt,
    Subscription,
    add_webhook,
    delete_webhook,
    new_webhook_id,
    next_attempt,
    recent_attempts,
    record_attempt,
    webhook,
    webhooks_of,
)

__all__ = [
    "MODELS",
    "Attempt",
    "Change",
    "CodeItem",
    "Conflict",
    "ConsentRecord",
    "CounterItem",
    "DeliveryItem",
    "DueIndex",
    "Evidence",
    "EvidenceItem",
    "InboundNumberItem",
    "JobItem",
    "LastSmsItem",
    "MessageItem",
    "NumberTaken",
    "PendingOptIn",
    "StoreUnavailable",
    "Subject",
    "SubjectItem",
    "Subscription",
    "TenantItem",
    "TokenItem",
    "WebhookItem",
    "add_webhook",
    "bind",
    "commit",
    "count_hit",
    "count_undo",
    "delete_code",
    "delete_webhook",
    "due_subjects",
    "evidence_of",
    "get_code",
    "get_tenant_doc",
    "get_token",
    "job_cursor",
    "last_sms_at",
    "load_subject",
    "load_subject_by_pk",
    "mark_sms_sent",
    "message_answer",
    "new_subject",
    "new_webhook_id",
    "next_attempt",
    "phones_of",
    "put_tenant_doc",
    "recent_attempts",
    "record_attempt",
    "remember_message",
    "rewrite",
    "set_job_cursor",
    "set_last_sms",
    "subject_pk",
    "tenant_of_number",
    "webhook",
    "webhooks_of",
    "window_end",
]
