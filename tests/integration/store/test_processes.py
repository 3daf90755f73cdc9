"""Several processes sharing one database: each starts by migrating it, then they drain the outbox together."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime

from releve.store import ComponentStatus, Impact, Store, Text

T0 = datetime(2024, 5, 1, 12, tzinfo=UTC)

# Each process opens the store itself (so they also race on the migration), says it is ready,
# waits for "go", then claims until nothing is left and prints what it got.
_WORKER = """
import json, sys
from datetime import datetime
from releve.store import Store

store = Store(sys.argv[1])
store.open()
print("ready", flush=True)
sys.stdin.readline()
now = datetime.fromisoformat(sys.argv[2])
taken = []
while batch := store.claim_notifications(now, limit=5):
    taken += [item.id for item in batch]
store.close()
print(json.dumps(taken), flush=True)
"""


def test_processes_racing_on_migration_and_claims_never_share_an_item(database_url: str) -> None:
    workers = [subprocess.Popen([sys.executable, "-c", _WORKER, database_url, T0.isoformat()], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True) for _ in range(3)]
    try:
        for worker in workers:
            assert worker.stdout is not None
            assert worker.stdout.readline().strip() == "ready"
        store = Store(database_url)
        store.open()
        for _ in range(3):
            store.open_incident(name=Text("x", "x"), body=Text("x", "x"), impact=Impact.MINOR, components=["a"],
                                affected=[("a", ComponentStatus.PARTIAL_OUTAGE)], at=T0, automatic=True,
                                channels=[f"webhook:{n}" for n in range(40)])
        store.close()
        outputs = [worker.communicate("go\n", timeout=60)[0] for worker in workers]
    finally:
        for worker in workers:
            worker.kill()
            worker.wait()
    assert [worker.returncode for worker in workers] == [0, 0, 0]
    taken = [item_id for output in outputs for item_id in json.loads(output.splitlines()[-1])]
    assert len(taken) == len(set(taken)) == 120
