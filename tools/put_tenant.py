"""Put a tenant from a JSON file into the table, after validating all of it.

    python -m tools.put_tenant my-tenant.json --table <TableName output of the stack>
    python -m tools.put_tenant my-tenant.json --check          # validate only, no AWS
    python -m tools.put_tenant my-tenant.json --table <TableName> \\
        --presend-function <PresendFunctionName output>        # and its tenant-<id> alias
    python -m tools.put_tenant my-tenant.json --table <TableName> \\
        --alarm-topic <AlarmTopicArn output>                   # and its opt-out rate alarm

Uses the usual AWS credentials and region (AWS_PROFILE, AWS_REGION). Set
DYNAMODB_ENDPOINT to write to another DynamoDB-compatible endpoint instead.
A tenant that fails validation is not written; the message names the field at fault.
Plain-text secrets ({"value": ...}) are refused for AWS; they are for the local stack
(DYNAMODB_ENDPOINT set, or --check --local).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

ALIAS_VERSION = "$LATEST"  # deploys update $LATEST, so the alias follows them


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="make tenant", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("file", type=Path, help="tenant JSON document")
    parser.add_argument("--table", help="DynamoDB table name (default: $TABLE_NAME)")
    parser.add_argument("--check", action="store_true", help="validate only: no table, no AWS")
    parser.add_argument(
        "--local",
        action="store_true",
        help="with --check: validate for the local stack (plain secrets allowed)",
    )
    parser.add_argument(
        "--presend-function",
        metavar="NAME",
        help="also create (or repoint to $LATEST) the pre-send function's alias tenant-<id>",
    )
    parser.add_argument(
        "--alarm-topic",
        metavar="ARN",
        help="also create (or update) the tenant's campaign opt-out rate alarm, notifying this SNS topic",
    )
    args = parser.parse_args(argv)
    endpoint = os.environ.get("DYNAMODB_ENDPOINT")
    if args.table:
        os.environ["TABLE_NAME"] = args.table
    if not args.check and not os.environ.get("TABLE_NAME"):
        print(
            "name the table: make tenant FILE=... TABLE=<TableName output of the stack> "
            "(or --table / TABLE_NAME); to validate only: make tenant-check FILE=...",
            file=sys.stderr,
        )
        return 2

    from smsconsent.tenants import Tenant

    try:
        doc = json.loads(args.file.read_text(encoding="utf-8"))
        # For AWS, secrets must be references: a {"value": ...} one is refused like any fault.
        tenant = Tenant.from_dict(doc, plain_secrets=bool(endpoint) or (args.check and args.local))
    except (OSError, ValueError) as exc:  # TenantError is a ValueError, naming the field
        print(f"{args.file}: {exc}", file=sys.stderr)
        return 2
    if args.check:
        print(f"{args.file}: tenant {tenant.id} is valid" + (" for the local stack" if args.local else ""))
        return 0

    from smsconsent import clock, store

    table = os.environ["TABLE_NAME"]
    try:
        store.bind()
        store.put_tenant_doc(doc, clock.now())
    except Exception as exc:
        print(
            f"{args.file}: tenant {tenant.id} not written: {_aws_problem(exc, table, endpoint)}",
            file=sys.stderr,
        )
        return 1
    print(f"tenant {tenant.id} written to {table}")
    if args.presend_function:
        try:
            action = put_alias(args.presend_function, tenant.id)
        except Exception as exc:
            print(
                f"alias for tenant {tenant.id} not made: {_aws_problem(exc, table, endpoint)}",
                file=sys.stderr,
            )
            return 1
        print(f"alias {args.presend_function}:{alias_name(tenant.id)} {action}")
    if args.alarm_topic:
        try:
            name = put_optout_alarm(tenant.id, args.alarm_topic)
        except Exception as exc:
            print(
                f"opt-out rate alarm for tenant {tenant.id} not made: {_aws_problem(exc, table, endpoint)}",
                file=sys.stderr,
            )
            return 1
        print(f"alarm {name} put")
    return 0


def optout_alarm_name(tenant_id: str) -> str:
    return f"sms-consent-{tenant_id}-campaign-optout-rate"


def put_optout_alarm(tenant_id: str, topic_arn: str) -> str:
    """Create or update the tenant's alarm on ``CampaignOptOutRateHigh`` (written by the tally
    per tenant when a campaign's opt-out rate passes the tenant's ``optout_alarm``); it
    notifies ``topic_arn`` (the stack's AlarmTopicArn output). Returns its name."""
    import boto3

    from smsconsent import settings

    name = optout_alarm_name(tenant_id)
    boto3.client("cloudwatch", region_name=settings.get().region).put_metric_alarm(
        AlarmName=name,
        AlarmDescription=(
            f"A campaign of tenant {tenant_id} passed its opt-out rate threshold (optout_alarm): "
            "the tally's log names it, with its sends and opt-outs"
        ),
        Namespace=_METRICS_NAMESPACE,
        MetricName="CampaignOptOutRateHigh",
        Dimensions=[{"Name": "service", "Value": _SERVICE}, {"Name": "tenant", "Value": tenant_id}],
        Statistic="Sum",
        Period=300,
        EvaluationPeriods=1,
        Threshold=0,
        ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="notBreaching",
        AlarmActions=[topic_arn],
    )
    return name


# The template's POWERTOOLS_METRICS_NAMESPACE and POWERTOOLS_SERVICE_NAME: what the
# functions' metrics are written under (this machine's environment does not say).
_METRICS_NAMESPACE = "SmsConsent"
_SERVICE = "sms-consent"


def alias_name(tenant_id: str) -> str:
    from smsconsent.presend import TENANT_ALIAS_PREFIX

    return TENANT_ALIAS_PREFIX + tenant_id


def put_alias(function_name: str, tenant_id: str) -> str:
    """Create the alias ``tenant-<id>`` of the pre-send function, or point it back at
    ``$LATEST``; returns what was done."""
    import boto3

    from smsconsent import settings

    client = boto3.client("lambda", region_name=settings.get().region)
    name = alias_name(tenant_id)
    description = f"direct pre-send checks for tenant {tenant_id} (grant lambda:InvokeFunction on this alias)"
    try:
        current = client.get_alias(FunctionName=function_name, Name=name)
    except client.exceptions.ResourceNotFoundException:
        client.create_alias(
            FunctionName=function_name, Name=name, FunctionVersion=ALIAS_VERSION, Description=description
        )
        return "created"
    if current.get("FunctionVersion") == ALIAS_VERSION and not current.get("RoutingConfig"):
        return "already points to $LATEST"
    client.update_alias(
        FunctionName=function_name,
        Name=name,
        FunctionVersion=ALIAS_VERSION,
        Description=description,
        RoutingConfig={"AdditionalVersionWeights": {}},
    )
    return "repointed to $LATEST"


def _causes(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    todo: list[Any] = [exc]
    while todo:
        current = todo.pop()
        if isinstance(current, BaseException) and current not in seen:
            seen.append(current)
            # pynamodb keeps the botocore error as .cause
            todo += [current.__cause__, current.__context__, getattr(current, "cause", None)]
    return seen


def _aws_problem(exc: BaseException, table: str, endpoint: str | None) -> str:
    """What went wrong, in words a person can act on (no traceback)."""
    from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError, NoRegionError

    from smsconsent import settings

    region = settings.get().region
    for cause in _causes(exc):
        if isinstance(cause, NoCredentialsError):
            return (
                "no AWS credentials found: set AWS_PROFILE (or AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY), or run `aws configure`"
            )
        if isinstance(cause, NoRegionError):
            return "no AWS region: set AWS_REGION"
        if isinstance(cause, EndpointConnectionError):
            return f"cannot reach {endpoint or 'AWS'}: {cause}"
        if isinstance(cause, ClientError):
            code = cause.response.get("Error", {}).get("Code", "")
            message = cause.response.get("Error", {}).get("Message", "")
            if code == "ResourceNotFoundException":
                return (
                    f"not found in {region}: {message or code} (is {table!r} the stack's TableName "
                    "output, and AWS_REGION its region?)"
                )
            if code in ("UnrecognizedClientException", "InvalidSignatureException", "ExpiredTokenException"):
                return f"AWS refused the credentials ({code}): check AWS_PROFILE or renew the session"
            if "AccessDenied" in code:
                return f"access denied ({message or code})"
            return f"{code}: {message}"
    return str(exc) or type(exc).__name__


if __name__ == "__main__":
    sys.exit(main())
