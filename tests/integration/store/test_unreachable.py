"""PostgreSQL out of reach: store calls fail fast with `StoreError` (never hang, never leak the driver's errors),
and the same `Store` works again once the server is back, without being reopened."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import make_url, text

from releve.errors import StoreError
from releve.store import Store
from support.tcp_proxy import TcpProxy

T0 = datetime(2024, 5, 1, 12, tzinfo=UTC)
POSTGRESQL_ONLY = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


@pytest.fixture
def proxied(database_url: str) -> Iterator[tuple[TcpProxy, Store]]:
    """An open store that reaches the test's database through a proxy the test can cut."""
    target = make_url(database_url)
    with TcpProxy(target.host or "127.0.0.1", target.port or 5432) as proxy:
        store = Store(proxy.url_for(database_url))
        store.open()
        yield proxy, store
        store.close()


def _job(store: Store) -> str:
    return store.create_job(route="chat", operation="chat", body={}, client=None, callback_url=None, at=T0,
                            expires_at=T0 + timedelta(hours=1)).id


@POSTGRESQL_ONLY
def test_calls_fail_fast_with_store_error_while_cut_and_work_again_once_restored(
        proxied: tuple[TcpProxy, Store]) -> None:
    proxy, store = proxied
    job_id = _job(store)
    proxy.cut()
    for call in (lambda: store.job(job_id), lambda: store.claim_jobs(T0), lambda: _job(store)):
        started = time.monotonic()
        with pytest.raises(StoreError, match="127.0.0.1"):
            call()
        assert time.monotonic() - started < 2.0
    proxy.restore()
    found = store.job(job_id)  # the same Store: broken pooled connections were replaced
    assert found is not None and found.id == job_id
    assert [job.id for job in store.claim_jobs(T0)] == [job_id]


@POSTGRESQL_ONLY
def test_a_query_cut_midway_raises_store_error(proxied: tuple[TcpProxy, Store]) -> None:
    proxy, store = proxied
    raised: list[BaseException] = []

    def slow_query() -> None:
        try:
            with store._begin() as connection:
                connection.execute(text("SELECT pg_sleep(10)"))
        except BaseException as exc:
            raised.append(exc)

    worker = threading.Thread(target=slow_query)
    worker.start()
    time.sleep(0.3)  # the query is running on the server
    started = time.monotonic()
    proxy.cut()
    worker.join(timeout=5)
    assert not worker.is_alive()
    assert time.monotonic() - started < 2.0
    assert len(raised) == 1 and isinstance(raised[0], StoreError)
    proxy.restore()
    assert store.claim_jobs(T0) == []


@POSTGRESQL_ONLY
def test_a_server_that_never_answers_is_given_up_after_the_connect_timeout(database_url: str) -> None:
    """A listening socket nobody accepts on: TCP connects, the server never speaks (a hung host, a dead NAT)."""
    with socket.create_server(("127.0.0.1", 0)) as silent:
        url = make_url(database_url).set(port=silent.getsockname()[1]).render_as_string(hide_password=False)
        raised: list[BaseException] = []

        def open_store() -> None:
            try:
                Store(url).open()
            except BaseException as exc:
                raised.append(exc)

        opener = threading.Thread(target=open_store, daemon=True)  # without a connect timeout it would never end
        started = time.monotonic()
        opener.start()
        opener.join(timeout=10)
        elapsed = time.monotonic() - started
    assert 2.5 < elapsed < 8.0  # connect_timeout is 3 s
    assert len(raised) == 1 and isinstance(raised[0], StoreError)
    assert "cannot open the store" in str(raised[0])
