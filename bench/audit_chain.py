"""How many audit entries per second the store's hash chain takes: the ceiling for routes with a data policy.

Every request on a route with a data policy appends one routing entry to one chain (`protect/_audit.py`
buffers them and writes up to 1,000 per transaction, under the chain's lock). However many replicas
serve, the chain is one: this rate caps those routes fleet-wide. Measured straight on `Store.append_audit`
(what each process's audit writer calls), with realistic entries (`request_record`), on:

- PostgreSQL (a fresh database on 127.0.0.1:5432, dropped after), 1 writer and 3 writers at once (three
  replicas' writers contending for the chain's lock);
- SQLite (a file in a temporary directory), 1 writer.

Each case runs `--repeats` times for `--seconds`; a case's figure is the median, with the range.

    .venv/bin/python -m bench.audit_chain                 # about a minute
    .venv/bin/python -m bench.audit_chain --no-write      # print only

It writes its section into bench/RESULTS.md and its figures under the "audit_chain" key of
bench/results.json (a full `bench.run` keeps both).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import secrets
import shlex
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.procs import check_idle
from bench.report import load_json, write_markdown
from bench.report_audit import SECTION_KEY, audit_markdown
from bench.report_shared import load_shared
from bench.run import machine, releve_source

__all__ = ["main"]

BENCH_DIR = Path(__file__).resolve().parent
ADMIN_URL = os.environ.get("RELEVE_TEST_POSTGRES_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")


@contextlib.contextmanager
def fresh_postgres() -> Iterator[str]:
    import psycopg
    from psycopg import sql

    name = f"releve_bench_audit_{secrets.token_hex(4)}"
    with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=3) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield f"{ADMIN_URL.rpartition('/')[0]}/{name}"
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=3) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def entries_per_second(url: str, writers: int, seconds: float, chunk: int) -> float:
    """`writers` stores (as separate processes' writers would be) appending `chunk` entries per transaction."""
    from releve.protect import request_record
    from releve.store import Store

    record = request_record(route="support", outcome="fallback", client="k1", client_name="support-app",
                            targets=["openai/gpt-4o-mini", "mistral/mistral-small (pseudonymised)"],
                            regions=["us", "eu"], data_class="personal", pii={"email": 1}, status=200,
                            request_id="req_0123456789abcdef")
    stores = [Store(url) for _ in range(writers)]
    for store in stores:
        store.open()
    counts = [0] * writers
    errors: list[BaseException] = []
    barrier = threading.Barrier(writers + 1)
    deadline = [0.0]

    def work(index: int) -> None:
        barrier.wait()
        try:
            while time.monotonic() < deadline[0]:
                now = datetime.datetime.now(datetime.UTC)
                stores[index].append_audit([(now, "request", "gateway", dict(record)) for _ in range(chunk)],
                                           key=b"bench-audit-key")
                counts[index] += chunk
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    started = time.monotonic()
    deadline[0] = started + seconds
    barrier.wait()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    for store in stores:
        store.close()
    if errors:
        raise errors[0]
    return sum(counts) / elapsed


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.audit_chain", description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=4.0, help="each measured run (default 4)")
    p.add_argument("--repeats", type=int, default=3, help="runs per case (default 3)")
    p.add_argument("--chunk", type=int, default=1000, help="entries per transaction (the writer's maximum: 1000)")
    p.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md and results.json alone")
    args = p.parse_args(argv)

    busy = check_idle([0, 1] if (os.cpu_count() or 1) > 1 else [0]).busy
    started = time.monotonic()
    cases: list[dict[str, Any]] = []
    with fresh_postgres() as pg_url, tempfile.TemporaryDirectory() as tmp:
        plan = [("postgresql", pg_url, 1), ("postgresql", pg_url, 3), ("sqlite", f"sqlite:///{tmp}/audit.db", 1)]
        for backend, url, writers in plan:
            rates = []
            for _ in range(args.repeats):
                rates.append(entries_per_second(url, writers, args.seconds, args.chunk))
                print(f"{backend}, {writers} writer(s): {rates[-1]:,.0f} entries/s", flush=True)
            cases.append({"backend": backend, "writers": writers, "rates": [round(r) for r in rates],
                          "median": round(statistics.median(rates))})
    info = {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "command": "python -m bench.audit_chain " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:])),
        "source": releve_source(None, None),
        "machine": machine(),
        "busy_before": busy,
        "seconds": args.seconds,
        "repeats": args.repeats,
        "chunk": args.chunk,
        "elapsed_s": round(time.monotonic() - started, 1),
    }
    data = {"info": info, "cases": cases}
    print("\n".join(audit_markdown(data)))
    if args.no_write:
        print("RESULTS.md and results.json left as they were")
        return 0
    json_path = BENCH_DIR / "results.json"
    stored = json.loads(json_path.read_text())
    stored[SECTION_KEY] = data
    json_path.write_text(json.dumps(stored, indent=2, ensure_ascii=False) + "\n")
    results, run_info = load_json(json_path)
    write_markdown(BENCH_DIR / "RESULTS.md", results, run_info, shared=load_shared(json_path), audit=data)
    print(f"wrote the section into {BENCH_DIR / 'RESULTS.md'} and {json_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
