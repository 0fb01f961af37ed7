"""The local stack's stand-in for AWS End User Messaging opt-out lists: the three calls
``list_sync`` makes (``put_opted_out_number``, ``delete_opted_out_number``,
``describe_opted_out_numbers``), with AWS's answers and errors (botocore ``ClientError``
of the same codes and fields), the 30-day delete limit on the local clock, and the
entries shown at ``GET /_local/provider-optouts``. ``POST /_local/provider-optouts``
adds a number as if the person had replied STOP to AWS (``EndUserOptedOut``), so the
reconciliation has something to find."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

DELETE_EVERY = timedelta(days=30)


@dataclass
class _Entry:
    at: datetime
    by_person: bool


def _client_error(operation: str, code: str, message: str, **fields: str) -> Exception:
    from botocore.exceptions import ClientError

    response: Any = {"Error": {"Code": code, "Message": message}, **fields}
    return ClientError(response, operation)


class LocalOptOutLists:
    def __init__(self, now: Callable[[], datetime]) -> None:
        self._now = now
        self._lock = threading.Lock()
        self._lists: dict[str, dict[str, _Entry]] = {}
        self._deleted: dict[tuple[str, str], datetime] = {}

    # -- the API's calls ----------------------------------------------------------------------

    def _list(self, name: str, operation: str) -> dict[str, _Entry]:
        # Every list a tenant names exists here: the local stack makes it on first use.
        return self._lists.setdefault(name, {})

    def put_opted_out_number(self, *, OptOutListName: str, OptedOutNumber: str) -> dict[str, Any]:
        with self._lock:
            entries = self._list(OptOutListName, "PutOptedOutNumber")
            entry = entries.setdefault(OptedOutNumber, _Entry(self._now(), False))
            return self._answer(OptOutListName, OptedOutNumber, entry)

    def delete_opted_out_number(self, *, OptOutListName: str, OptedOutNumber: str) -> dict[str, Any]:
        with self._lock:
            entries = self._list(OptOutListName, "DeleteOptedOutNumber")
            if OptedOutNumber not in entries:
                raise _client_error(
                    "DeleteOptedOutNumber",
                    "ResourceNotFoundException",
                    "the number is not on the opt-out list",
                    ResourceType="opted-out-number",
                    ResourceId=OptedOutNumber,
                )
            now = self._now()
            last = self._deleted.get((OptOutListName, OptedOutNumber))
            if last is not None and now < last + DELETE_EVERY:
                raise _client_error(
                    "DeleteOptedOutNumber",
                    "ValidationException",
                    "each destination phone number can only be deleted once every 30 days",
                    Reason="PHONE_NUMBER_CANNOT_BE_OPTED_IN",
                )
            entry = entries.pop(OptedOutNumber)
            self._deleted[(OptOutListName, OptedOutNumber)] = now
            return self._answer(OptOutListName, OptedOutNumber, _Entry(now, entry.by_person))

    def describe_opted_out_numbers(
        self,
        *,
        OptOutListName: str,
        OptedOutNumbers: list[str] | None = None,
        MaxResults: int = 100,
        NextToken: str | None = None,
    ) -> dict[str, Any]:
        with self._lock:
            entries = self._list(OptOutListName, "DescribeOptedOutNumbers")
            numbers = (
                sorted(entries) if OptedOutNumbers is None else [n for n in OptedOutNumbers if n in entries]
            )
            # The token is the last number shown: a page goes on after it, whatever was
            # deleted or added meanwhile (an offset would skip numbers after a delete).
            after = [n for n in numbers if n > NextToken] if NextToken else numbers
            page = after[:MaxResults]
            answer: dict[str, Any] = {
                "OptOutListName": OptOutListName,
                "OptedOutNumbers": [self._info(n, entries[n]) for n in page],
            }
            if len(after) > MaxResults:
                answer["NextToken"] = page[-1]
            return answer

    # -- the local routes ----------------------------------------------------------------------

    def add_by_person(self, list_name: str, e164: str) -> None:
        """As if the person had replied STOP to the list's number."""
        with self._lock:
            self._list(list_name, "")[e164] = _Entry(self._now(), True)

    def shown(self) -> dict[str, list[dict[str, Any]]]:
        with self._lock:
            return {
                name: [
                    {"phone": n, "opted_out_at": e.at.isoformat(), "end_user_opted_out": e.by_person}
                    for n, e in sorted(entries.items())
                ]
                for name, entries in sorted(self._lists.items())
            }

    def clear(self) -> None:
        with self._lock:
            self._lists.clear()
            self._deleted.clear()

    @staticmethod
    def _info(number: str, entry: _Entry) -> dict[str, Any]:
        return {"OptedOutNumber": number, "OptedOutTimestamp": entry.at, "EndUserOptedOut": entry.by_person}

    def _answer(self, list_name: str, number: str, entry: _Entry) -> dict[str, Any]:
        return {"OptOutListName": list_name, **self._info(number, entry)}
