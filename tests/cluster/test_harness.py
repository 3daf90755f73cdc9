"""The cluster harness itself: its Redis restarts where the replicas expect it, its databases are dropped."""

from __future__ import annotations

from pathlib import Path

import psycopg

from support.cluster import ADMIN_URL, RedisServer, postgres_database


def test_redis_server_stops_and_starts_again_on_the_same_port(tmp_path: Path) -> None:
    with RedisServer(tmp_path) as redis:
        port = redis.port
        assert redis.ping()
        assert redis.url == f"redis://127.0.0.1:{port}/0"
        assert redis.shared_state() == {"url": redis.url, "prefix": redis.prefix}
        assert redis.stop() == 0
        assert not redis.ping()
        redis.start()
        assert redis.port == port and redis.ping()
    assert not redis.running and not redis.ping()


def test_each_postgres_database_is_empty_and_dropped_afterwards() -> None:
    with postgres_database() as url, psycopg.connect(url, connect_timeout=3) as connection:
        name = url.rpartition("/")[2]
        tables = connection.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()
        assert tables == (0,)
    with psycopg.connect(ADMIN_URL, connect_timeout=3) as admin:
        assert admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None
