"""GET /v1/jobs/{id} over ASGI: each status as the client sees it, and nothing for anyone else."""

from __future__ import annotations

from datetime import timedelta

import orjson
import pytest

from integration.jobs._support import OTHER_KEY, WallClock, asgi_get, chat
from releve.config import Config
from releve.gateway import ClientAuth
from releve.jobs import JobsApi
from releve.store import Job, Store

COMPLETION = {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "p-model",
              "choices": [{"index": 0, "message": {"role": "assistant", "content": "Bonjour"},
                           "finish_reason": "stop"}]}


@pytest.fixture
def api(store: Store, config: Config) -> JobsApi:
    return JobsApi(store, auth=ClientAuth(config.clients, required=True))


def create(store: Store, wall: WallClock, client: str | None = "jobs", max_age: float = 3600.0) -> Job:
    return store.create_job(route="solo", operation="chat", body=chat(), client=client, callback_url=None,
                            at=wall(), expires_at=wall() + timedelta(seconds=max_age))


def test_the_handler_takes_job_paths_only(api: JobsApi) -> None:
    assert api.handles("/v1/jobs/job_0123")
    assert not api.handles("/v1/jobs/") and not api.handles("/v1/jobs") and not api.handles("/v1/chat/completions")


async def test_a_queued_job(api: JobsApi, store: Store, wall: WallClock) -> None:
    job = create(store, wall)
    answer = await asgi_get(api, f"/v1/jobs/{job.id}")
    assert answer.status == 200
    assert answer.headers[b"content-type"] == b"application/json"
    assert answer.headers[b"cache-control"] == b"no-store"
    assert answer.json() == {"id": job.id, "object": "job", "status": "queued",
                             "created_at": int(wall().timestamp()), "expires_at": int(wall().timestamp()) + 3600,
                             "route": "solo"}


async def test_a_running_job(api: JobsApi, store: Store, wall: WallClock) -> None:
    job = create(store, wall)
    store.claim_jobs(wall())
    payload = (await asgi_get(api, f"/v1/jobs/{job.id}")).json()
    assert payload["status"] == "running" and "response" not in payload and "error" not in payload


async def test_a_succeeded_job_holds_the_completion(api: JobsApi, store: Store, wall: WallClock) -> None:
    job = create(store, wall)
    store.claim_jobs(wall())
    store.finish_job(job.id, succeeded=True, response_status=200, response_body=orjson.dumps(COMPLETION),
                     target="primary/p-model", at=wall())
    payload = (await asgi_get(api, f"/v1/jobs/{job.id}")).json()
    assert payload["status"] == "succeeded" and payload["response"] == COMPLETION


async def test_a_failed_job_holds_the_error(api: JobsApi, store: Store, wall: WallClock) -> None:
    job = create(store, wall)
    store.claim_jobs(wall())
    error = {"message": "max_tokens is too large", "type": "invalid_request_error", "code": None,
             "param": "max_tokens"}
    store.finish_job(job.id, succeeded=False, response_status=400, response_body=orjson.dumps({"error": error}),
                     target=None, at=wall(), error=error["message"])
    payload = (await asgi_get(api, f"/v1/jobs/{job.id}")).json()
    assert payload["status"] == "failed" and payload["error"] == error and "response" not in payload


async def test_an_expired_job_says_so(api: JobsApi, store: Store, wall: WallClock) -> None:
    job = create(store, wall, max_age=10)
    wall.advance(11)
    assert store.expire_jobs(wall()) == [job.id]
    payload = (await asgi_get(api, f"/v1/jobs/{job.id}")).json()
    assert payload["status"] == "expired"
    assert payload["error"]["code"] == "job_expired" and payload["error"]["type"] == "server_error"


@pytest.mark.parametrize("path", ["/v1/jobs/job_000000000000000000000000", "/v1/jobs/../admin",
                                  "/v1/jobs/job_" + "f" * 500])
async def test_an_unknown_job_is_a_404(api: JobsApi, path: str) -> None:
    answer = await asgi_get(api, path)
    assert answer.status == 404
    error = answer.json()["error"]
    assert (error["type"], error["code"], error["param"]) == ("invalid_request_error", "job_not_found", None)
    assert len(error["message"]) < 100


async def test_another_clients_job_is_a_404(api: JobsApi, store: Store, wall: WallClock) -> None:
    job = create(store, wall)
    theirs = await asgi_get(api, f"/v1/jobs/{job.id}", key=OTHER_KEY)
    unknown = await asgi_get(api, "/v1/jobs/job_000000000000000000000000", key=OTHER_KEY)
    assert theirs.status == 404
    assert theirs.json()["error"]["code"] == unknown.json()["error"]["code"]


@pytest.mark.parametrize("key", [None, "wrong-key"])
async def test_a_request_without_a_valid_key_is_a_401(api: JobsApi, store: Store, wall: WallClock,
                                                      key: str | None) -> None:
    job = create(store, wall)
    answer = await asgi_get(api, f"/v1/jobs/{job.id}", key=key)
    assert answer.status == 401
    error = answer.json()["error"]
    assert (error["type"], error["code"]) == ("authentication_error", "invalid_api_key")


async def test_only_get_is_allowed(api: JobsApi, store: Store, wall: WallClock) -> None:
    job = create(store, wall)
    answer = await asgi_get(api, f"/v1/jobs/{job.id}", method="DELETE")
    assert answer.status == 405 and answer.headers[b"allow"] == b"GET"


async def test_with_authentication_off_jobs_are_read_by_id(store: Store, config: Config, wall: WallClock) -> None:
    open_api = JobsApi(store, auth=ClientAuth(config.clients, required=False))
    job = create(store, wall, client=None)
    answer = await asgi_get(open_api, f"/v1/jobs/{job.id}", key=None)
    assert answer.status == 200 and answer.json()["id"] == job.id
