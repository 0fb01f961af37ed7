"""Hostile events for the confirmation and opt-out links (see tests/hostile/support.py for
what every answer must be)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fixtures.events import load_event
from tests.hostile.support import (
    Watch,
    fuzz,
    http_events,
    reached,
    seeded,
)

pytestmark = pytest.mark.usefixtures("aws")

# ---- confirmation and opt-out links ---------------------------------------------------------


def _link_event(kind: str, method: str, value: str) -> dict[str, Any]:
    name = "confirm-post.json" if method == "POST" else "confirm-get.json"
    event = load_event(name)
    prefix, param = ("c", "token") if kind == "token" else ("o", "code")
    event["rawPath"] = event["requestContext"]["http"]["path"] = f"/{prefix}/{value}"
    event["routeKey"] = event["requestContext"]["routeKey"] = f"{method} /{prefix}/{{{param}}}"
    event["requestContext"]["http"]["method"] = method
    event["pathParameters"] = {param: value}
    if method == "POST" and kind == "code":
        event["body"], event["isBase64Encoded"] = "reason=too+many+messages", False
    return event


def test_confirm_and_optout_links(context, clock, outbox):
    from functions.confirm.app import handler

    links = seeded(context, outbox)
    bases = [
        _link_event(kind, method, links[kind][0])
        for kind in ("token", "code")
        for method in ("GET", "HEAD", "POST")
    ]
    values = st.sampled_from([*links["token"], *links["code"], "A" * 64, "a" * 7, "=" * 20])

    watch = Watch()

    @fuzz(150)
    @given(
        http_events(
            bases,
            ["reason", "token", "code"],
            methods=["GET", "HEAD", "POST"],
            path_values={"token": values, "code": values},
        )
    )
    def case(event: dict[str, Any]) -> None:
        watch.run("confirm", handler, event, context, outbox)

    case()
    reached("confirm", "200", "404", "400 malformed_body")
