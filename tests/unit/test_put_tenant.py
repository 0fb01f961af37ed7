"""tools/put_tenant: validates the whole file before writing, names the field at fault; the
`make tenant` and `make tenant-check` command lines work from a clean environment and answer
without a traceback when AWS is not there."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local import template as local_template
from smsconsent import store, tenants
from tools import put_tenant

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "local" / "tenants" / "demo.json"


def _for_aws(tmp_path: Path) -> Path:
    """The demo tenant with its secrets as SSM references, as a tenant for AWS has them."""
    doc = json.loads(DEMO.read_text())
    for conf in doc["providers"].values():
        for key, value in conf.items():
            if isinstance(value, dict):
                conf[key] = {"ssm": f"/sms-consent/demo/{key}"}
    path = tmp_path / "demo-aws.json"
    path.write_text(json.dumps(doc))
    return path


@pytest.fixture
def moto_table(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with mock_aws():
        definition, _ = local_template.table_definition(local_template.load(), "tools-test")
        boto3.client("dynamodb", region_name="eu-central-1").create_table(**definition)
        monkeypatch.delenv("DYNAMODB_ENDPOINT", raising=False)
        try:
            yield
        finally:
            monkeypatch.undo()
            store.bind()
            tenants.clear_cache()


def test_a_valid_tenant_is_written(tmp_path, moto_table, capsys):
    assert put_tenant.main([str(_for_aws(tmp_path)), "--table", "tools-test"]) == 0
    assert "tenant demo written to tools-test" in capsys.readouterr().out
    assert store.get_tenant_doc("demo")["name"] == "Demo Shop"
    assert store.tenant_of_number("+4915790000000") == "demo"


def test_a_broken_tenant_is_refused_with_its_field(tmp_path, capsys):
    doc = json.loads(DEMO.read_text())
    doc["quiet_hours"] = {"start": "25:00", "end": "08:00"}
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(doc))
    assert put_tenant.main([str(broken), "--table", "never-written"]) == 2
    assert "quiet_hours" in capsys.readouterr().err


def test_plain_text_secrets_are_refused_for_aws_and_nothing_is_written(moto_table, capsys):
    # Given the demo file, whose secrets are {"value": ...} (fine for the local stack)
    # When it is put into a table in AWS (no DYNAMODB_ENDPOINT)
    assert put_tenant.main([str(DEMO), "--table", "tools-test"]) == 2
    # Then it is refused naming the field, and nothing is written
    assert "providers.twilio.auth_token: plain-text secrets" in capsys.readouterr().err
    assert store.get_tenant_doc("demo") is None


def _lambda_function(name: str) -> None:
    role = boto3.client("iam").create_role(
        RoleName="presend-test",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return {}\n")
    boto3.client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.13",
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": code.getvalue()},
    )


def test_the_presend_alias_is_created_and_repointed(tmp_path, moto_table, capsys):
    _lambda_function("stack-PresendFunction-abc")
    client = boto3.client("lambda")
    args = [
        str(_for_aws(tmp_path)),
        "--table",
        "tools-test",
        "--presend-function",
        "stack-PresendFunction-abc",
    ]
    assert put_tenant.main(args) == 0
    assert "alias stack-PresendFunction-abc:tenant-demo created" in capsys.readouterr().out
    alias = client.get_alias(FunctionName="stack-PresendFunction-abc", Name="tenant-demo")
    assert alias["FunctionVersion"] == "$LATEST"
    # Run again: nothing to change; pointed elsewhere: back to $LATEST.
    assert put_tenant.main(args) == 0
    assert "already points to $LATEST" in capsys.readouterr().out
    version = client.publish_version(FunctionName="stack-PresendFunction-abc")["Version"]
    client.update_alias(FunctionName="stack-PresendFunction-abc", Name="tenant-demo", FunctionVersion=version)
    assert put_tenant.main(args) == 0
    assert "repointed to $LATEST" in capsys.readouterr().out
    assert (
        client.get_alias(FunctionName="stack-PresendFunction-abc", Name="tenant-demo")["FunctionVersion"]
        == "$LATEST"
    )


def test_the_tenants_optout_rate_alarm_is_put_on_its_tenant_dimension(tmp_path, moto_table, capsys):
    topic = boto3.client("sns").create_topic(Name="stack-AlarmTopic")["TopicArn"]
    args = [str(_for_aws(tmp_path)), "--table", "tools-test", "--alarm-topic", topic]
    assert put_tenant.main(args) == 0
    assert "alarm sms-consent-demo-campaign-optout-rate put" in capsys.readouterr().out
    (alarm,) = boto3.client("cloudwatch").describe_alarms(AlarmNamePrefix="sms-consent-demo-")["MetricAlarms"]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("SmsConsent", "CampaignOptOutRateHigh")
    dimensions = {d["Name"]: d["Value"] for d in alarm["Dimensions"]}
    assert dimensions == {"service": "sms-consent", "tenant": "demo"}
    assert alarm["AlarmActions"] == [topic] and alarm["Threshold"] == 0
    # Run again: the same alarm, updated (one per tenant)
    assert put_tenant.main(args) == 0
    assert len(boto3.client("cloudwatch").describe_alarms()["MetricAlarms"]) == 1
    # And the metric is the one the functions write, as the template names it
    globals_env = local_template.load()["Globals"]["Function"]["Environment"]["Variables"]
    assert globals_env["POWERTOOLS_METRICS_NAMESPACE"] == alarm["Namespace"]
    assert globals_env["POWERTOOLS_SERVICE_NAME"] == dimensions["service"]


# ---- the make command lines, as a newcomer runs them ----------------------------------------


def _make(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``make <args>`` in an environment with nothing of this test session's: no PYTHONPATH,
    no AWS credentials or config, no instance metadata; the project's Python."""
    clean = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": env.pop("HOME"),
        "LANG": "C.UTF-8",
        "AWS_EC2_METADATA_DISABLED": "true",
        **env,
    }
    bin_dir = str(Path(sys.executable).parent)
    return subprocess.run(  # noqa: S603 - fixed command, no shell
        # -o: the venv is there already (the test runs in it); never reinstall it from here.
        [
            shutil.which("make") or "make",
            "--no-print-directory",
            "-o",
            ".venv/.installed-stamp",
            f"BIN={bin_dir}",
            *args,
        ],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stdout + result.stderr, result.stderr


def test_make_tenant_check_validates_without_aws(tmp_path: Path) -> None:
    ok = _make("tenant-check", f"FILE={_for_aws(tmp_path)}", HOME=str(tmp_path))
    assert ok.returncode == 0, ok.stderr
    assert "tenant demo is valid" in ok.stdout
    # The demo file is valid for the local stack, and refused for AWS (plain secrets).
    local = _make("tenant-check", f"FILE={DEMO}", "LOCAL=1", HOME=str(tmp_path))
    assert local.returncode == 0, local.stderr
    refused = _make("tenant-check", f"FILE={DEMO}", HOME=str(tmp_path))
    assert refused.returncode != 0
    assert "providers.twilio.auth_token" in refused.stderr
    _no_traceback(refused)
    # A misspelt key is named with its close match.
    doc = json.loads(DEMO.read_text())
    doc["quiet_hour"] = doc.pop("quiet_hours")
    typo = tmp_path / "typo.json"
    typo.write_text(json.dumps(doc))
    misspelt = _make("tenant-check", f"FILE={typo}", "LOCAL=1", HOME=str(tmp_path))
    assert misspelt.returncode != 0
    assert "quiet_hour: unknown key; did you mean 'quiet_hours'?" in misspelt.stderr
    _no_traceback(misspelt)
    missing = _make("tenant-check", HOME=str(tmp_path))
    assert missing.returncode != 0 and "usage: make tenant-check FILE=" in missing.stderr


def test_make_tenant_without_credentials_or_table_says_what_to_do(tmp_path: Path) -> None:
    aws_file = str(_for_aws(tmp_path))
    no_table = _make("tenant", f"FILE={aws_file}", HOME=str(tmp_path))
    assert no_table.returncode != 0
    assert "name the table" in no_table.stderr
    _no_traceback(no_table)
    no_credentials = _make("tenant", f"FILE={aws_file}", "TABLE=sms-consent-Table", HOME=str(tmp_path))
    assert no_credentials.returncode != 0
    assert "tenant demo not written: no AWS credentials found" in no_credentials.stderr
    _no_traceback(no_credentials)


@pytest.fixture
def dynamodb_server() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def test_make_tenant_writes_to_a_dynamodb_endpoint_and_names_a_missing_table(
    tmp_path: Path, dynamodb_server: str
) -> None:
    env: dict[str, Any] = {
        "HOME": str(tmp_path),
        "DYNAMODB_ENDPOINT": dynamodb_server,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "eu-central-1",
    }
    missing = _make("tenant", f"FILE={DEMO}", "TABLE=no-such-table", **env)
    assert missing.returncode != 0
    assert "not found in eu-central-1" in missing.stderr and "no-such-table" in missing.stderr
    _no_traceback(missing)
    client = boto3.client(
        "dynamodb",
        endpoint_url=dynamodb_server,
        region_name="eu-central-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    definition, _ = local_template.table_definition(local_template.load(), "tools-make")
    client.create_table(**definition)
    written = _make("tenant", f"FILE={DEMO}", "TABLE=tools-make", **env)
    assert written.returncode == 0, written.stderr
    assert "tenant demo written to tools-make" in written.stdout
    item = client.get_item(TableName="tools-make", Key={"pk": {"S": "TENANT#demo"}, "sk": {"S": "CONFIG"}})
    assert "Item" in item
