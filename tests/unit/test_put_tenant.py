"""tools/put_tenant: validates the whole file before writing, names the field at fault."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
from moto import mock_aws

from local import template as local_template
from smsconsent import store, tenants
from tools import put_tenant

DEMO = Path("local/tenants/demo.json")


def test_a_valid_tenant_is_written(tmp_path, monkeypatch, capsys):
    with mock_aws():
        definition, _ = local_template.table_definition(local_template.load(), "tools-test")
        boto3.client("dynamodb", region_name="eu-central-1").create_table(**definition)
        monkeypatch.delenv("DYNAMODB_ENDPOINT", raising=False)
        try:
            assert put_tenant.main([str(DEMO), "--table", "tools-test"]) == 0
            assert "tenant demo written to tools-test" in capsys.readouterr().out
            assert store.get_tenant_doc("demo")["name"] == "Demo Shop"
            assert store.tenant_of_number("+4915790000000") == "demo"
        finally:
            monkeypatch.undo()
            store.bind()
            tenants.clear_cache()


def test_a_broken_tenant_is_refused_with_its_field(tmp_path, capsys):
    doc = json.loads(DEMO.read_text())
    doc["quiet_hours"] = {"start": "25:00", "end": "08:00"}
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(doc))
    assert put_tenant.main([str(broken), "--table", "never-written"]) == 2
    assert "quiet_hours" in capsys.readouterr().err
