"""Idempotency-Key: a retry gets the first answer without a second upstream call, across processes too."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import orjson
import pytest

from integration.jobs._support import WallClock, chat, open_store, upstream_calls
from releve.errors import NoTargetAvailable
from releve.gateway import CapturedResponse, Router
from releve.gateway.providers import Operation
from releve.jobs import StoreIdempotency
from releve.sim import SimulatorThread
from releve.store import Store

JSON = ((b"content-type", b"application/json"),)
Produce = Callable[[], Awaitable[CapturedResponse]]


def raw(text: str = "Bonjour", route: str = "solo") -> bytes:
    return orjson.dumps(chat(route, text))


class Client:
    """What the inbound API does around the guard: produce() sends the request through the router."""

    def __init__(self, router: Router) -> None:
        self.router = router
        self.produced = 0

    def produce(self, body: bytes) -> Produce:
        async def produce() -> CapturedResponse:
            self.produced += 1
            request: dict[str, Any] = orjson.loads(body)
            try:
                served = await self.router.send(self.router.routes[request["model"]], request, Operation.CHAT)
            except NoTargetAvailable as exc:
                return CapturedResponse(exc.status, JSON, orjson.dumps({"error": {"message": exc.message}}))
            return CapturedResponse(200, (*JSON, *served.target.served_headers(served.attempts)),
                                    served.response.body)

        return produce


@pytest.fixture
def client(router: Router) -> Client:
    return Client(router)


@pytest.fixture
def guard(store: Store, wall: WallClock) -> StoreIdempotency:
    return StoreIdempotency(store, wall=wall)


async def send(guard: StoreIdempotency, client: Client, body: bytes, key: str = "key-1",
               who: str | None = "jobs") -> CapturedResponse:
    return await guard.run(client=who, key=key, body=body, produce=client.produce(body))


def replayed(response: CapturedResponse) -> bool:
    return (b"idempotent-replayed", b"true") in response.headers


async def test_the_same_key_and_body_get_the_first_answer_without_a_second_call(
        primary: SimulatorThread, guard: StoreIdempotency, client: Client) -> None:
    first = await send(guard, client, raw())
    second = await send(guard, client, raw())
    assert first.status == second.status == 200
    assert second.body == first.body
    assert not replayed(first) and replayed(second)
    assert (b"x-releve-target", b"primary/p-model") in second.headers
    assert upstream_calls(primary.stats()) == 1 and client.produced == 1


async def test_the_same_key_with_another_body_is_a_422(guard: StoreIdempotency, client: Client) -> None:
    await send(guard, client, raw("Bonjour"))
    refused = await send(guard, client, raw("Au revoir"))
    assert refused.status == 422
    error = orjson.loads(refused.body)["error"]
    assert (error["type"], error["code"], error["param"]) == ("invalid_request_error", "idempotency_key_reused", None)
    assert "different request body" in error["message"]
    assert client.produced == 1


async def test_concurrent_duplicates_wait_for_the_first(primary: SimulatorThread, guard: StoreIdempotency,
                                                        client: Client) -> None:
    primary.set_faults({"kind": "latency", "ms": 300})
    answers = await asyncio.gather(*(send(guard, client, raw()) for _ in range(5)))
    assert {a.status for a in answers} == {200}
    assert len({a.body for a in answers}) == 1
    assert sum(not replayed(a) for a in answers) == 1
    assert upstream_calls(primary.stats()) == 1


async def test_duplicates_in_another_process_wait_for_the_first(primary: SimulatorThread, database: str, store: Store,
                                                                guard: StoreIdempotency, client: Client,
                                                                wall: WallClock) -> None:
    primary.set_faults({"kind": "latency", "ms": 300})
    other_store = open_store(database)
    try:
        other = StoreIdempotency(other_store, wall=wall)
        answers = await asyncio.gather(send(guard, client, raw()), send(other, client, raw()))
    finally:
        other_store.close()
    assert answers[0].body == answers[1].body
    assert sorted(replayed(a) for a in answers) == [False, True]
    assert upstream_calls(primary.stats()) == 1


async def test_an_outage_answer_is_not_kept(primary: SimulatorThread, store: Store, guard: StoreIdempotency,
                                            client: Client) -> None:
    primary.set_faults({"kind": "status", "status": 503})
    failed = await send(guard, client, raw())
    assert failed.status >= 500
    assert store.idempotent("jobs", "key-1") is None
    primary.clear_faults()
    served = await send(guard, client, raw())
    assert served.status == 200 and not replayed(served)
    assert client.produced == 2 and upstream_calls(primary.stats()) == 2
    record = store.idempotent("jobs", "key-1")
    assert record is not None and record.state == "done" and record.response_status == 200


async def test_a_client_mistake_is_kept(guard: StoreIdempotency) -> None:
    produced: list[int] = []

    async def refuse() -> CapturedResponse:
        produced.append(1)
        return CapturedResponse(400, JSON, b'{"error": {"message": "bad"}}')

    first = await guard.run(client="jobs", key="k", body=b"{}", produce=refuse)
    again = await guard.run(client="jobs", key="k", body=b"{}", produce=refuse)
    assert (first.status, again.status, again.body) == (400, 400, first.body)
    assert replayed(again) and produced == [1]


async def test_keys_belong_to_their_client(primary: SimulatorThread, store: Store, guard: StoreIdempotency,
                                           client: Client) -> None:
    await send(guard, client, raw(), who="jobs")
    await send(guard, client, raw("Autre chose"), who="other")
    await send(guard, client, raw(), who=None)
    assert upstream_calls(primary.stats()) == 3
    assert store.idempotent("", "key-1") is not None  # authentication off: the client is stored as ""


async def test_a_request_that_ended_without_an_answer_frees_its_key(store: Store, guard: StoreIdempotency,
                                                                     client: Client) -> None:
    async def broken() -> CapturedResponse:
        await asyncio.sleep(0.1)
        raise RuntimeError("the client went away")

    first = asyncio.create_task(guard.run(client="jobs", key="key-1", body=raw(), produce=broken))
    await asyncio.sleep(0.05)  # the first holds the key
    duplicate = await send(guard, client, raw())
    with pytest.raises(RuntimeError):
        await first
    assert duplicate.status == 200 and not replayed(duplicate)
    assert client.produced == 1  # the duplicate ran once the first had given up


async def test_a_duplicate_waiting_too_long_gets_a_409(store: Store, client: Client, wall: WallClock) -> None:
    body = raw()
    store.begin_idempotent("jobs", "key-1", hashlib.sha256(body).hexdigest(), at=wall(),
                           expires_at=wall() + timedelta(days=1))  # in progress in another process
    impatient = StoreIdempotency(store, wall=wall, wait_timeout=0.2)
    answer = await send(impatient, client, body)
    assert answer.status == 409
    error = orjson.loads(answer.body)["error"]
    assert error["code"] == "idempotency_key_in_progress" and "still in progress" in error["message"]
    assert client.produced == 0


async def test_a_record_left_in_progress_by_a_dead_process_is_taken_over(store: Store, guard: StoreIdempotency,
                                                                          client: Client, wall: WallClock) -> None:
    body = raw()
    store.begin_idempotent("jobs", "key-1", hashlib.sha256(body).hexdigest(), at=wall() - timedelta(hours=1),
                           expires_at=wall() + timedelta(hours=23))
    answer = await send(guard, client, body)
    assert answer.status == 200 and client.produced == 1
