"""The zones a subject's item keeps for the pre-send check's quiet hours (``phone.stored_zones``):
a value this release could not have written (malformed, forged, a zone the time zone
database does not know, none, absurdly long) is worked out again from the number: never a
500, never quiet hours judged in UTC or in only some of the names. (A well-formed value is
trusted, as the rest of the item is: test_presend.py. That the zones go with the number:
test_retention.py, test_privacy.py.)"""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.test_presend import answer_of, check, committed, subject_item

pytestmark = pytest.mark.usefixtures("aws")

NY = "+12125550123"
BODY = {"recipients": [NY], "campaign": "c", "send_at": "2026-12-01T16:00:00Z"}  # 11:00 in New York
NIGHT = {**BODY, "send_at": "2026-12-01T12:00:00Z"}  # 07:00 in New York (quiet), 12:00 UTC (not)


def _reason(context: Any, body: dict[str, Any]) -> str:
    result = check(context, body)
    return str(answer_of(result)["results"][0]["reason"])


def _stored(value: str) -> None:
    item = subject_item(NY)
    item.update(actions=[type(item).zones.set(value)])


@pytest.mark.parametrize(
    "names",
    [
        "Nowhere/Atlantis",  # all unknown: schedule._zones_named would raise (a 500)
        "America/New_York Nowhere/Atlantis",  # partly unknown
        "Pacific/Honolulu Nowhere/Atlantis",  # partly unknown, and the rest not the number's
        "Etc/Unknown",  # phonenumbers' placeholder, which stored_zones never writes
        "../../etc/passwd",  # not a zone name at all (ZoneInfo refuses it)
        "America/New_York " * 5000,  # far longer than any number's zones
        "America",  # a folder of the time zone database (ZoneInfo raises OSError)
        "",  # none (a number placed nowhere): cheaply worked out, never UTC for a forged one
    ],
)
def test_a_stored_value_this_release_could_not_have_written_is_worked_out_again(context, clock, names):
    # Given a confirmed New York number whose item's zones carry this release's tag
    from smsconsent import phone

    committed(NY, clock, language="en")
    source = phone.stored_zones(NY).partition("|")[0]
    # When the item's zones hold names no number of this release has
    _stored(f"{source}|{names}")
    # Then quiet hours are judged in New York: no 500, no other zone
    assert _reason(context, BODY) == "ok"
    assert _reason(context, NIGHT) == "quiet_hours"


@pytest.mark.parametrize("value", ["", "|", "garbage", "pn|America/New_York", "|America/New_York"])
def test_a_stored_value_of_no_release_is_worked_out_again(context, clock, value):
    # Given a confirmed New York number, When its item's zones are malformed
    committed(NY, clock, language="en")
    _stored(value)
    # Then quiet hours are judged in New York
    assert _reason(context, BODY) == "ok"
    assert _reason(context, NIGHT) == "quiet_hours"
