"""Concurrent confirmation, STOP and erasure of one subject, from threads, on moto (issue 6).

Each round signs a fresh number up, then releases at once (``threading.Barrier``) a POST
of its confirmation link, a STOP through ``inbound.receive`` and, every other round, an
erasure. When all are done:

* the answers and the stored subject are those of SOME serial order of the operations
  that did not answer 503 (a small model of each operation, run in every order);
* STOP always wins: after a STOP nothing is active (no START came);
* the evidence chain verifies, and there are exactly as many events as the state changes
  the answers reported in that order (no lost update, nothing written twice);
* nothing but the documented 503 answers (busy, storage unavailable) leaks.

moto applies a request without a lock of its own (a TransactWriteItems even restores a
deep copy of the whole table when one of its conditions fails, undoing writes other
threads made meanwhile), so each DynamoDB request is made atomic here, as DynamoDB makes
it. The races the domain must survive are between requests: read, decide, conditional
write.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import pytest

from tests.invariants.harness import (
    STATS,
    MotoWorld,
    confirm_event,
    signup_event,
    sms,
    status_of,
    subject_of,
    token_of,
)

ROUNDS = 20
PURPOSES = ("marketing", "newsletter")
TIMEOUT = 60  # seconds a thread may take


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[MotoWorld]:
    from moto.dynamodb.responses import DynamoHandler

    from smsconsent import store

    real = DynamoHandler.call_action
    lock = threading.Lock()

    def atomic(handler: Any) -> Any:
        with lock:
            return real(handler)

    monkeypatch.setattr(DynamoHandler, "call_action", atomic)
    # Count the conditional writes that lost a race (the domain reads again and retries).
    counting = threading.Lock()

    def counted(write: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return write(*args, **kwargs)
            except store.Conflict:
                with counting:
                    STATS["races"]["conditional writes that lost a race (retried)"] += 1
                raise

        return call

    monkeypatch.setattr(store, "commit", counted(store.commit))
    monkeypatch.setattr(store, "rewrite", counted(store.rewrite))
    opened = MotoWorld()
    try:
        yield opened
    finally:
        opened.close()


# ---- a serial model of the three operations ---------------------------------------------


@dataclass(frozen=True)
class Held:
    """What is stored of the number, as far as the operations tell apart."""

    states: tuple[str, str]  # sms:marketing, sms:newsletter
    phone: bool  # the raw number is stored
    events: int  # evidence events (= ev_seq)
    link: bool  # the records still carry the link's token


PENDING = Held(("pending", "pending"), phone=True, events=1, link=True)  # after the signup


def confirm_op(held: Held | None) -> tuple[str, Held | None]:
    if held is None or not held.link:
        return "expired", held
    if "opted_out" in held.states:
        return "opted_out", held
    if set(held.states) == {"active"}:
        return "already_confirmed", held
    return "confirmed", replace(held, states=("active", "active"), events=held.events + 1)


def stop_op(held: Held | None) -> tuple[str, Held | None]:
    if held is None:  # an unknown number gets a suppression marker of its keyed hash alone
        return "optout", Held(("opted_out", "opted_out"), phone=False, events=1, link=False)
    if set(held.states) == {"opted_out"}:
        return "optout", held
    return "optout", replace(held, states=("opted_out", "opted_out"), events=held.events + 1)


def erase_op(held: Held | None) -> tuple[str, Held | None]:
    if held is None:
        return "not_held", None
    if "opted_out" in held.states:  # the suppression marker stays, with an "erased" event
        return "suppression_kept", replace(held, phone=False, events=held.events + 1, link=False)
    return "erased", None


OPS: dict[str, Callable[[Held | None], tuple[str, Held | None]]] = {
    "confirm": confirm_op,
    "stop": stop_op,
    "erase": erase_op,
}


def serial_outcomes(names: list[str]) -> Iterator[tuple[tuple[str, ...], dict[str, str], Held | None]]:
    for order in itertools.permutations(names):
        held: Held | None = PENDING
        answers = {}
        for name in order:
            answers[name], held = OPS[name](held)
        yield order, answers, held


# ---- one round ------------------------------------------------------------------------------


def _observed_held(phone: str) -> tuple[Held | None, list[Any], Any]:
    from smsconsent import store

    subject = subject_of(phone)
    if subject is None:
        return None, [], None
    events = store.evidence_of(subject.pk)
    marketing, newsletter = (subject.consents.get(f"sms:{p}", {}).get("state", "-") for p in PURPOSES)
    states = (str(marketing), str(newsletter))
    link = any(r.get("token") or r.get("confirmed_token") for r in subject.consents.values())
    held = Held(states, phone=subject.phone is not None, events=len(events), link=link)
    return held, events, subject


def _race(world: MotoWorld, phone: str, names: list[str], token: str, round_no: int) -> dict[str, Any]:
    """Run the operations at once; returns each one's answer or the exception it raised."""
    from functions.confirm.app import handler as confirm_handler
    from smsconsent import inbound, privacy

    tenant = world.tenant
    number = privacy.number_of(phone, tenant)

    def confirm() -> Any:
        answer = confirm_handler(confirm_event(token), world.context)
        return answer["statusCode"], status_of(answer) if answer["statusCode"] != 503 else "busy"

    def stop() -> Any:
        return inbound.receive(tenant, sms(f"SM-race-{round_no}", phone, "STOP"))

    def erase() -> Any:
        return privacy.erase(tenant, number)

    calls = {"confirm": confirm, "stop": stop, "erase": erase}
    barrier = threading.Barrier(len(names))
    results: dict[str, Any] = {}

    def run(name: str) -> None:
        barrier.wait(timeout=TIMEOUT)
        try:
            results[name] = calls[name]()
        except BaseException as exc:  # judged below: only the documented 503s may happen
            results[name] = exc

    threads = [threading.Thread(target=run, args=(name,), name=f"race-{name}") for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=TIMEOUT)
        assert not thread.is_alive(), f"{thread.name} hangs"
    return results


def _answer(name: str, result: Any) -> str | None:
    """The model's name for an answer; None for a documented 503 (the operation did not
    happen: the caller retries). Anything else that went wrong fails the test."""
    from smsconsent import api, store
    from smsconsent.errors import Refusal

    if name == "confirm":
        code, status = result
        if code == 503:
            return None
        assert code == {"confirmed": 200, "already_confirmed": 200, "expired": 410, "opted_out": 409}[status]
        return str(status)
    if isinstance(result, store.StoreUnavailable) and name == "stop":
        return None  # the inbound handler answers 503: the provider retries
    if isinstance(result, Refusal) and api.answer_for(result).status == 503 and name == "erase":
        return None
    assert not isinstance(result, BaseException), f"{name} raised {result!r}"
    if name == "stop":
        assert result.action == "optout" and not result.replay, result
        return "optout"
    if not result["held"]:
        return "not_held"
    return "suppression_kept" if result["suppression_kept"] else "erased"


def test_confirm_stop_and_erase_at_once_end_as_some_serial_order(world: MotoWorld) -> None:
    from functions.signup.app import handler as signup_handler
    from smsconsent import evidence
    from smsconsent.sender.outbox import OUTBOX

    for round_no in range(ROUNDS):
        phone = f"+491512{round_no:02d}34567"  # its own prefix: no prefix budget
        names = ["confirm", "stop", "erase"] if round_no % 2 else ["confirm", "stop"]
        answer = signup_handler(
            signup_event(phone, ["marketing", "newsletter"], f"198.51.100.{round_no + 1}"), world.context
        )
        assert answer["statusCode"] == 202, answer
        token = token_of(OUTBOX.messages()[-1]["body"])
        assert _observed_held(phone)[0] == PENDING

        results = _race(world, phone, names, token, round_no)
        answers = {name: _answer(name, result) for name, result in results.items()}
        done = [name for name in names if answers[name] is not None]
        held, events, subject = _observed_held(phone)

        matches = [
            order
            for order, expected, final in serial_outcomes(done)
            if expected == {n: answers[n] for n in done} and final == held
        ]
        assert matches, (
            f"round {round_no}: answers {answers} and stored {held} fit no serial order of {done}; "
            f"serial orders give {[(o, e, f) for o, e, f in serial_outcomes(done)]}"
        )
        # STOP always wins: once it happened nothing is active (no START came).
        if "stop" in done:
            assert held is not None and "active" not in held.states, held
        # The chain verifies, and it holds exactly the events of the state changes answered.
        if subject is not None:
            assert subject.ev_seq == len(events), (subject.ev_seq, len(events))
            ok, detail = evidence.verify(events, subject.ev_head, subject.ev_seq)
            assert ok, f"round {round_no}: {detail}"

        STATS["races"]["rounds"] += 1
        STATS["races"][f"order {'>'.join(matches[0])}"] += 1
        STATS["races"]["answers 503"] += len(names) - len(done)
        world.clock.advance(minutes=1)


def _deliver(tenant: Any, message: Any, barrier: threading.Barrier, out: list[Any]) -> None:
    from smsconsent import inbound

    barrier.wait(timeout=TIMEOUT)
    try:
        out.append(inbound.receive(tenant, message))
    except BaseException as exc:  # judged by the caller
        out.append(exc)


def test_the_same_stop_delivered_twice_at_once_is_applied_once(world: MotoWorld) -> None:
    """A provider retrying a webhook while the first delivery is still running: one
    opt-out event, and both deliveries get the same answer."""
    from functions.confirm.app import handler as confirm_handler
    from functions.signup.app import handler as signup_handler
    from smsconsent import evidence, store
    from smsconsent.sender.outbox import OUTBOX

    for round_no in range(ROUNDS // 2):
        phone = f"+491513{round_no:02d}34567"
        signup_handler(signup_event(phone, ["marketing"], f"198.51.101.{round_no + 1}"), world.context)
        token = token_of(OUTBOX.messages()[-1]["body"])
        assert status_of(confirm_handler(confirm_event(token), world.context)) == "confirmed"

        results: list[Any] = []
        barrier = threading.Barrier(2)
        message = sms(f"SM-dup-{round_no}", phone, "STOP")
        threads = [
            threading.Thread(target=_deliver, args=(world.tenant, message, barrier, results))
            for _ in range(2)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=TIMEOUT)
            assert not thread.is_alive(), "a delivery hangs"
        assert all(not isinstance(r, BaseException) for r in results), results
        assert {(r.action, r.reply) for r in results} == {("optout", results[0].reply)}
        assert sorted(r.replay for r in results) == [False, True], results
        subject = subject_of(phone)
        events = store.evidence_of(subject.pk)
        assert [e.type for e in events].count("optout") == 1, [e.type for e in events]
        assert evidence.verify(events, subject.ev_head, subject.ev_seq) == (True, "ok")
        STATS["races"]["duplicate STOP rounds"] += 1
        world.clock.advance(minutes=1)


def _at_once(calls: dict[str, Any]) -> dict[str, Any]:
    """Each call's answer (or what it raised), the calls started together on threads."""
    barrier = threading.Barrier(len(calls))
    results: dict[str, Any] = {}

    def run(name: str, call: Any) -> None:
        barrier.wait(timeout=TIMEOUT)
        try:
            results[name] = call()
        except BaseException as exc:  # judged by the caller
            results[name] = exc

    threads = [threading.Thread(target=run, args=item, name=f"race-{item[0]}") for item in calls.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=TIMEOUT)
        assert not thread.is_alive(), f"{thread.name} hangs"
    return results


def test_an_import_racing_a_stop_never_resurrects_consent(world: MotoWorld) -> None:
    """An import chunk's active row and a STOP of the same number at once: whichever
    commits first, a STOP that happened leaves no active consent, and the evidence chain
    holds exactly the changes made."""
    from smsconsent import clock, evidence, importing, inbound, store

    for round_no in range(ROUNDS):
        phone = f"+491514{round_no:02d}34567"
        import_id = store.new_import_id()
        row = {
            "phone": phone,
            "status": "active",
            "purposes": "marketing",
            "consented_at": "2026-06-01T10:00:00Z",
            "method": "written",
        }
        [chunk] = importing.chunks_of("demo", import_id, "0" * 64, [row])
        store.create_import("demo", import_id, "0" * 64, "api", 1, 1, clock.now())
        results = _at_once(
            {
                "import": partial(importing.run_chunk, world.tenant, chunk),
                "stop": partial(
                    inbound.receive, world.tenant, sms(f"SM-import-race-{round_no}", phone, "STOP")
                ),
            }
        )
        assert not isinstance(results["import"], BaseException), results["import"]
        stopped = not isinstance(results["stop"], BaseException)
        if not stopped:
            assert isinstance(results["stop"], store.StoreUnavailable), results["stop"]
        held, events, subject = _observed_held(phone)
        assert subject is not None
        if stopped:
            assert "active" not in held.states, (round_no, results, held)
        ok, detail = evidence.verify(events, subject.ev_head, subject.ev_seq)
        assert ok, f"round {round_no}: {detail}"
        order = "import>stop" if [e.type for e in events][:1] == ["consent_imported"] else "stop>import"
        STATS["import races"][order] += 1
        world.clock.advance(minutes=1)
