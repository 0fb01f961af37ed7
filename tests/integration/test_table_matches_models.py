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
    indexes = {i["IndexName"]: i for i in definition["GlobalSecondaryIndexes"]}
    assert set(indexes) == {"due-index", "sms-optout-index", "tenant-index"}
    attributes = store.SubjectItem.get_attributes()
    for model_index in (
        store.SubjectItem.due_index,
        store.SubjectItem.sms_optout_index,
        store.SubjectItem.tenant_index,
    ):
        index = indexes[model_index.Meta.index_name]
        keys_of_index = {k["KeyType"]: k["AttributeName"] for k in index["KeySchema"]}
        assert {k: v.attr_name for k, v in _index_keys(model_index).items()} == keys_of_index
        assert all(name in attributes for name in keys_of_index.values())
        projected = model_index.Meta.projection
        assert index["Projection"]["ProjectionType"] == projected.projection_type
        assert sorted(index["Projection"].get("NonKeyAttributes", [])) == sorted(
            projected.non_key_attributes or []
        )
    assert attributes["ttl"].attr_name == ttl_attribute
    assert store.EvidenceItem.get_attributes()["ttl"].attr_name == ttl_attribute
    declared = {a["AttributeName"]: a["AttributeType"] for a in definition["AttributeDefinitions"]}
    assert declared == {
        "pk": "S",
        "sk": "S",
        "due_bucket": "S",
        "due_at": "S",
        "sms_optout": "S",
        "tenant_shard": "S",
    }


def _index_keys(index):
    found = {}
    for attribute in index.Meta.attributes.values():
        if attribute.is_hash_key:
            found["HASH"] = attribute
        elif attribute.is_range_key:
            found["RANGE"] = attribute
    return found
