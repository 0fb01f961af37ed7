"""The table in template.yaml and the pynamodb models agree on keys, index and TTL."""

from __future__ import annotations

from local import template as local_template


def test_template_table_matches_models():
    from smsconsent import store

    definition, ttl_attribute = local_template.table_definition(local_template.load(), "t")
    keys = {k["KeyType"]: k["AttributeName"] for k in definition["KeySchema"]}
    for model in store.MODELS:
        assert model._hash_keyname == keys["HASH"]
        assert model._range_keyname == keys["RANGE"]
    [index] = definition["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "due-index"
    index_keys = {k["KeyType"]: k["AttributeName"] for k in index["KeySchema"]}
    attributes = store.SubjectItem.get_attributes()
    assert attributes["due_bucket"].attr_name == index_keys["HASH"]
    assert attributes["due_at"].attr_name == index_keys["RANGE"]
    assert attributes["ttl"].attr_name == ttl_attribute
    assert store.EvidenceItem.get_attributes()["ttl"].attr_name == ttl_attribute
    declared = {a["AttributeName"]: a["AttributeType"] for a in definition["AttributeDefinitions"]}
    assert declared == {"pk": "S", "sk": "S", "due_bucket": "S", "due_at": "S"}
