"""The only package that knows DynamoDB: pynamodb models on one table and the access
patterns the domain needs. Everything callers use is here (``store.load_subject``, ...).

The modules: ``models`` (the items, the shared connection, ``bind``), ``errors`` (the
domain's exceptions and the one guard mapping pynamodb's onto them), ``subjects``
(subjects and their evidence: load, commit, rewrite, due), ``lookups`` (tenant documents,
inbound numbers, tokens, opt-out codes, provider messages handled), ``counters`` (rate
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
    DueIndex,
    EvidenceItem,
    InboundNumberItem,
    JobItem,
    LastSmsItem,
    MessageItem,
    SubjectItem,
    TenantItem,
    TokenItem,
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
    rewrite,
)

__all__ = [
    "MODELS",
    "Change",
    "CodeItem",
    "Conflict",
    "ConsentRecord",
    "CounterItem",
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
    "TenantItem",
    "TokenItem",
    "bind",
    "commit",
    "count_hit",
    "count_undo",
    "delete_code",
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
    "put_tenant_doc",
    "remember_message",
    "rewrite",
    "set_job_cursor",
    "set_last_sms",
    "subject_pk",
    "tenant_of_number",
    "window_end",
]
