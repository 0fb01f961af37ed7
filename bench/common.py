"""What the benchmarks share: the repository's paths, the template's functions, the
environment a function gets in Lambda, and fresh interpreters that report back."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from local import template as tpl

if TYPE_CHECKING:
    from smsconsent.tenants import Tenant

ROOT = Path(__file__).resolve().parents[1]
REGION = "eu-central-1"
TABLE_NAME = "sms-consent-bench"
# Bench only; in AWS the pepper is a generated Secrets Manager secret (PEPPER_SECRET_ARN).
PEPPER_JSON = '{"current": "b1", "b1": "bench-pepper-not-a-secret-0123456789"}'
MARKER = "@@bench "  # the line a measuring interpreter answers on (logs may share stdout)
# Installed here (dev tools pull them in), not in the layer nor among the runtime's boto3
# dependencies, and imported by botocore whenever present (~75 ms here, for the floor and
# the functions alike). Hidden from the measuring interpreters (``sys.modules[name] =
# None``), as they would be missing on Lambda.
NOT_ON_LAMBDA = ("awscrt", "OpenSSL")
# ``python -m bench --smoke`` (run by ``make test``): every section once, at sizes that take
# seconds, so that a bench that no longer runs is seen before the next full run. Its
# figures mean nothing.
SMOKE = os.environ.get("BENCH_SMOKE") == "1"
T = TypeVar("T")


def sized(full: T, smoke: T) -> T:
    """A size of the full bench, or of its smoke run."""
    return smoke if SMOKE else full


def functions() -> dict[str, tpl.Function]:
    """The template's functions by logical id, in template order."""
    return tpl.functions(tpl.load())


def layer_paths() -> list[Path]:
    """What Lambda puts on ``sys.path`` as ``/opt/python``: the template's own layers."""
    return tpl.layer_paths(tpl.load())


def function_path(function: tpl.Function) -> list[str]:
    """``sys.path`` entries as in Lambda: the code (``/var/task``), then the layers."""
    return [str(ROOT / "functions" / function.folder), *(str(p) for p in layer_paths())]


def lambda_env(function: tpl.Function | None = None, **extra: str) -> dict[str, str]:
    """A clean environment as Lambda would give ``function``: the template's plain variables
    (``Globals`` merged with the function's own), ``TABLE_NAME`` as a literal, the pepper as
    ``PEPPER_JSON`` instead of a secret ARN, fake credentials and the region. Nothing of the
    caller's environment leaks in but ``PATH``."""
    variables = function.environment if function else next(iter(functions().values())).environment
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_SESSION_TOKEN": "bench",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    if function is not None:
        env.update(
            {
                "AWS_LAMBDA_FUNCTION_NAME": function.logical_id,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory),
                "LAMBDA_TASK_ROOT": str(ROOT / "functions" / function.folder),
            }
        )
    for name, value in variables.items():
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            env[name] = str(value)
        elif isinstance(value, bool):
            env[name] = str(value).lower()
    env["TABLE_NAME"] = TABLE_NAME
    env.pop("PEPPER_SECRET_ARN", None)
    env["PEPPER_JSON"] = PEPPER_JSON
    # The demo tenant's {"value": ...} secrets, on the bench's own DynamoDB (AWS refuses them).
    env["ALLOW_PLAIN_SECRETS"] = "true"
    env.update(extra)
    return env


def in_process_env(**extra: str) -> None:
    """Set this process up as a function on the bench's own moto: fake credentials, the
    bench table and pepper, the local outbox, the demo tenant's plain secrets (AWS refuses
    them), no endpoint or secret ARN of the caller's environment."""
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_SESSION_TOKEN": "bench",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "TABLE_NAME": TABLE_NAME,
            "PEPPER_JSON": PEPPER_JSON,
            "SMS_SENDER": "outbox",
            "POWERTOOLS_SERVICE_NAME": "sms-consent",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
            "ALLOW_PLAIN_SECRETS": "true",
            **extra,
        }
    )
    for name in ("DYNAMODB_ENDPOINT", "PEPPER_SECRET_ARN", "EVENT_BUS_NAME", "WEBHOOK_QUEUE_URL"):
        os.environ.pop(name, None)


def lambda_prelude(path: Sequence[str]) -> str:
    """The first lines of a measuring interpreter's code: Lambda's ``sys.path`` (``path``
    first) and the packages Lambda does not have hidden."""
    return (
        f"import sys\nsys.path[:0] = {list(path)!r}\n"
        f"for _name in {NOT_ON_LAMBDA!r}:\n    sys.modules[_name] = None\n"
    )


def run_fresh(
    code: str, env: Mapping[str, str], timeout: float = 120, flags: Sequence[str] = ()
) -> dict[str, Any]:
    """Run ``code`` in a fresh isolated interpreter (``-I``: no user site, no ``PYTHON*``
    variables, no current directory on ``sys.path``; ``flags`` added); returns the JSON it
    printed after ``MARKER``. Raises ``RuntimeError`` with its stderr when it fails."""
    done = subprocess.run(
        [sys.executable, "-I", *flags, "-c", code],
        env=dict(env),
        cwd=str(ROOT),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(MARKER):
            answer: dict[str, Any] = json.loads(line[len(MARKER) :])
            return answer
    raise RuntimeError(f"benchmark interpreter failed (exit {done.returncode}):\n{done.stderr[-3000:]}")


def json_object(body: bytes | None) -> dict[str, Any] | None:
    """A pre-send page's body as the reader's short way got it (``store.batch._Wire.fetch``),
    as JSON when it is an object: a clean 200 may hold anything, and the reader then asks
    botocore, which the counts and meters see at its own layer."""
    try:
        answer = json.loads(body) if body is not None else None
    except ValueError:
        return None
    return answer if isinstance(answer, dict) else None


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def write_json(path: str | Path, data: Any) -> None:
    Path(path).write_text(json.dumps(data, indent=2, sort_keys=False) + "\n", encoding="utf-8")


def report(figures: Any, out: str | None) -> None:
    """A benchmark's figures: to ``out`` (``make bench`` reads them there), else stdout."""
    if out:
        write_json(out, figures)
    else:
        print(json.dumps(figures, indent=2))


def layer_on_path() -> None:
    """Put the repository and the template's layers on ``sys.path``, as Lambda would."""
    for path in reversed([str(ROOT), *(str(p) for p in layer_paths())]):
        if path not in sys.path:
            sys.path.insert(0, path)


def progress(message: str) -> None:
    """A progress line on stderr (stdout may carry function logs)."""
    print(f"bench: {message}", file=sys.stderr, flush=True)


def demo_doc() -> dict[str, Any]:
    """The local stack's demo tenant, a copy of its own to change."""
    doc: dict[str, Any] = json.loads((ROOT / "local" / "tenants" / "demo.json").read_text(encoding="utf-8"))
    return doc


def hold_tenant(doc: dict[str, Any]) -> Tenant:
    """``doc`` as the tenant a warm function holds: never read from DynamoDB. Its plain
    secrets are taken (the demo tenant's; AWS refuses them)."""
    from smsconsent import tenants

    tenant = tenants.Tenant.from_dict(doc, plain_secrets=True)
    tenants._cache[tenant.id] = (float("inf"), tenant)
    return tenant


def put_items(client: Any, table: str, items: Iterable[dict[str, Any]]) -> None:
    """Put items (DynamoDB JSON) into a moto table in this process (a mock or a threaded
    server): straight into moto's backend, the same items ``BatchWriteItem`` would store at
    a fraction of the time (100,000 through the API take over a minute); through the API
    with ``client`` when moto's internals are not as expected."""
    try:
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.dynamodb.models import dynamodb_backends

        backend: Any = dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION]
        backend.get_table(table)
    except (ImportError, KeyError, AttributeError):
        backend = None
    if backend is not None:
        for item in items:
            backend.put_item(table, item)
        return
    batch: list[dict[str, Any]] = []
    for item in items:
        batch.append({"PutRequest": {"Item": item}})
        if len(batch) == 25:
            _write(client, table, batch)
            batch = []
    _write(client, table, batch)


def _write(client: Any, table: str, batch: list[dict[str, Any]]) -> None:
    while batch:
        answer = client.batch_write_item(RequestItems={table: batch})
        batch = answer.get("UnprocessedItems", {}).get(table, [])
