"""Peak memory of each function after import and one real invocation.

A fresh isolated interpreter per function, set up as Lambda would be (``bench.common``),
imports ``app``, reads its peak RSS (``ru_maxrss``), invokes the handler once with the
function's event from ``events/`` and reads it again. DynamoDB is moto's server and SMS
goes to a stub, both in another process (``bench.backend``), so moto's own memory is not
counted: what is measured is the function, its DynamoDB client and its requests.

The invocations run in template order against one table, so later ones find what earlier
ones wrote (the privacy export finds the subject the signup and STOP made).

    .venv/bin/python -m bench.memory
"""

from __future__ import annotations

import json
from typing import Any

from bench.backend import Backend
from bench.common import MARKER, ROOT, function_path, functions, lambda_env, lambda_prelude, run_fresh

# The event each function is invoked with (by folder); see event_of for the others.
EVENTS = {
    "signup": "signup-json.json",
    "confirm": "confirm-get.json",
    "inbound": "inbound-sns-stop.json",
    "presend": "presend-direct.json",
    "privacy": "privacy-export.json",
    "expiry": "expiry-scheduled.json",
}


# A second invocation in the same process (a warm container) with another event that
# changes state, to show what a warm call still pays (botocore clients made per write).
SECOND_EVENTS = {
    "signup": "signup-form.json",  # another number: a new pending consent
    "inbound": "inbound-sns-start.json",  # START after the STOP
    "privacy": "privacy-optout.json",  # opt-out on the person's behalf
}


def event_of(folder: str) -> str | None:
    """The event a function is invoked with: ``EVENTS``, else the first ``events/<folder>*.json``."""
    if folder in EVENTS:
        return EVENTS[folder]
    found = sorted((ROOT / "events").glob(f"{folder}*.json"))
    return found[0].name if found else None


_CODE = """\
{prelude}import time
import app
import json, resource

def rss():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

after_import = rss()
# The repository's one LambdaContext, loaded from its file: the repository itself stays off
# this Lambda-like sys.path.
import importlib.util
_spec = importlib.util.spec_from_file_location("lambda_context", {context_file!r})
lambda_context = importlib.util.module_from_spec(_spec)
sys.modules["lambda_context"] = lambda_context
_spec.loader.exec_module(lambda_context)

def Context():
    # The pre-send function answers a direct invocation only through its tenant's alias.
    return lambda_context.LambdaContext(
        function_name={name!r},
        invoked_function_arn=lambda_context.arn({name!r}, {qualifier!r}),
        memory_limit_in_mb={memory!r},
        aws_request_id="bench-request",
        log_stream_name="bench",
        remaining_ms={timeout!r} * 1000,
    )

import botocore.session

clients = []
client_seconds = [0.0]
_create_client = botocore.session.Session.create_client

def create_client(self, service_name, *args, **kwargs):
    clients.append(service_name)
    started = time.perf_counter()
    try:
        return _create_client(self, service_name, *args, **kwargs)
    finally:
        client_seconds[0] += time.perf_counter() - started

botocore.session.Session.create_client = create_client

def outcome_of(answer):
    if isinstance(answer, dict) and "statusCode" in answer:
        return str(answer["statusCode"])
    if isinstance(answer, dict) and "error" in answer:
        return str(answer["error"].get("code"))
    if isinstance(answer, dict):
        shown = answer.get("summary", answer)
        return " ".join(f"{{k}}={{v}}" for k, v in shown.items() if type(v) is int and v) or "all 0"
    if isinstance(answer, Exception):
        return "raised " + type(answer).__name__
    return None

def invoke(event_file):
    \"\"\"(outcome, ms, clients made, ms making them) of one invocation.\"\"\"
    with open(event_file, encoding="utf-8") as f:
        event = json.load(f)
    made, spent = len(clients), client_seconds[0]
    started = time.perf_counter()
    try:
        answer = app.handler(event, Context())
    except Exception as exc:
        answer = exc
    took = (time.perf_counter() - started) * 1000
    return [outcome_of(answer), took, len(clients) - made, (client_seconds[0] - spent) * 1000]

first = invoke({event!r}) if {event!r} else None
invoked = rss()
second = invoke({second!r}) if {second!r} else None
print({marker!r} + json.dumps(
    {{"import_kb": after_import, "invoked_kb": invoked, "first": first, "second": second,
      "clients": clients}}
))
"""


def measure() -> dict[str, Any]:
    """Per function: peak RSS (MB) after import and after one invocation, the invocation's
    wall time (ms, against moto), its outcome (HTTP status, error code or the summary's
    counts) and the botocore clients it created."""
    results: dict[str, Any] = {}
    with Backend() as backend:
        for function in functions().values():
            event = event_of(function.folder)
            second = SECOND_EVENTS.get(function.folder) if event else None
            code = _CODE.format(
                prelude=lambda_prelude(function_path(function)),
                name=function.logical_id,
                qualifier="tenant-demo" if function.folder == "presend" else None,
                context_file=str(ROOT / "local" / "context.py"),
                memory=function.memory,
                timeout=function.timeout,
                event=str(ROOT / "events" / event) if event else "",
                second=str(ROOT / "events" / second) if second else "",
                marker=MARKER,
            )
            env = lambda_env(
                function,
                DYNAMODB_ENDPOINT=backend.dynamodb,
                AWS_ENDPOINT_URL_PINPOINT_SMS_VOICE_V2=backend.sms,
            )
            answer = run_fresh(code, env)
            first, again = answer["first"] or [None] * 4, answer["second"]
            results[function.logical_id] = {
                "event": event,
                "import_mb": round(answer["import_kb"] / 1024, 1),
                "invoked_mb": round(answer["invoked_kb"] / 1024, 1),
                "outcome": first[0],
                "first_invoke_ms": _round(first[1]),
                # botocore clients the first invocation made (each loads its service model)
                # and the part of the call spent making them
                "clients_created": first[2],
                "client_ms": _round(first[3]),
                "clients": answer["clients"],
                "second_event": second,
                "second": {
                    "outcome": again[0],
                    "ms": _round(again[1]),
                    "clients_created": again[2],
                    "client_ms": _round(again[3]),
                }
                if again
                else None,
            }
    return results


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


if __name__ == "__main__":
    print(json.dumps(measure(), indent=2))
