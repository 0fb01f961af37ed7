"""Put a tenant from a JSON file into the table, after validating all of it.

    python -m tools.put_tenant my-tenant.json --table <TableName output of the stack>

Uses the usual AWS credentials and region (AWS_PROFILE, AWS_REGION). Set
DYNAMODB_ENDPOINT to write to another DynamoDB-compatible endpoint instead.
A tenant that fails validation is not written; the message names the field at fault.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("file", type=Path, help="tenant JSON document")
    parser.add_argument("--table", help="DynamoDB table name (default: $TABLE_NAME)")
    args = parser.parse_args(argv)
    if args.table:
        os.environ["TABLE_NAME"] = args.table
    if not os.environ.get("TABLE_NAME"):
        parser.error("name the table with --table or TABLE_NAME")

    from smsconsent import clock, store
    from smsconsent.tenants import Tenant, TenantError

    try:
        doc = json.loads(args.file.read_text(encoding="utf-8"))
        tenant = Tenant.from_dict(doc)
    except (OSError, ValueError) as exc:
        print(f"{args.file}: {exc}", file=sys.stderr)
        return 2
    except TenantError as exc:
        print(f"{args.file}: {exc}", file=sys.stderr)
        return 2
    plain = [
        f"providers.{p}.{k}"
        for p, conf in tenant.providers.items()
        for k, v in conf.items()
        if getattr(v, "kind", "") == "value"
    ]
    if plain and not os.environ.get("DYNAMODB_ENDPOINT"):
        print(
            f"warning: plain-text secrets in {', '.join(plain)}; "
            "in AWS use {'secret': ARN} or {'ssm': name}",
            file=sys.stderr,
        )
    store.bind()
    store.put_tenant_doc(doc, clock.now())
    print(f"tenant {tenant.id} written to {os.environ['TABLE_NAME']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
