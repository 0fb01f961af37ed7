"""A tenant's inbound numbers: E.164, or a short code with its country ("FR:36111")."""

from __future__ import annotations

from typing import Any

import pytest

from smsconsent.tenants import Tenant, TenantError


@pytest.mark.parametrize(
    ("numbers", "path"),
    [
        (["015790000000"], "inbound_numbers[0]"),  # national form: never what providers match
        (["+4915790000000", "4915790000001"], "inbound_numbers[1]"),
        (["36111"], "inbound_numbers[0]"),  # a short code needs its country: FR:36111
        (["fr:36111"], "inbound_numbers[0]"),
        ([5], "inbound_numbers[0]"),
        (["+4915790000000", "+4915790000000"], "inbound_numbers"),
    ],
)
def test_inbound_numbers_are_e164_or_country_short_codes(
    demo_doc: dict[str, Any], numbers: Any, path: str
) -> None:
    demo_doc["inbound_numbers"] = numbers
    with pytest.raises(TenantError) as refused:
        Tenant.from_dict(demo_doc)
    assert refused.value.path == path


def test_inbound_numbers_take_a_short_code_with_its_country(demo_doc: dict[str, Any]) -> None:
    demo_doc["inbound_numbers"] = ["+4915790000000", "FR:36111"]
    assert Tenant.from_dict(demo_doc).inbound_numbers == ("+4915790000000", "FR:36111")
