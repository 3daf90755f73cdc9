"""Issue 8, acceptance 3: a batch of 200 runs through a failover, a total outage and a restart, once per line."""

from __future__ import annotations

import time

import openai

from integration.batches._support import BatchGateway, chat_line, finished, read_lines, submit, wait_for
from releve.sim import SimulatorThread

DOWN = {"kind": "status", "status": 503}
SLOW = {"kind": "latency", "ms": 20}


def test_batch_survives_failover_outage_and_restart(gateway: tuple[BatchGateway, str], client: openai.OpenAI,
                                                    primary: SimulatorThread, fallback: SimulatorThread) -> None:
    app, _ = gateway
    for sim in (primary, fallback):
        sim.set_faults(SLOW)  # slow enough that the run can be watched, phase by phase
    lines = [chat_line(f"line-{n:03}", f"question {n}") for n in range(200)]
    batch_id = submit(client, lines, metadata={"job": "nightly"})

    def completed(at_least: int) -> None:
        wait_for(client, batch_id, lambda b: b.request_counts.completed >= at_least)

    # The primary fails: lines go to the fallback.
    completed(30)
    primary.set_faults(DOWN)
    completed(70)
    # Then the fallback too: no target can answer, and the batch waits rather than failing lines.
    fallback.set_faults(DOWN)
    time.sleep(0.3)
    before = client.batches.retrieve(batch_id)
    time.sleep(0.4)
    during = client.batches.retrieve(batch_id)
    assert during.status == "in_progress"
    assert during.request_counts.completed == before.request_counts.completed < 200
    assert during.request_counts.failed == 0
    # The gateway restarts in the middle of the outage: a new runner takes the batch up from the store.
    app.restart_runner()
    time.sleep(0.3)
    assert client.batches.retrieve(batch_id).request_counts.completed == during.request_counts.completed
    # The fallback comes back, then the primary.
    fallback.set_faults(SLOW)
    completed(during.request_counts.completed + 40)
    primary.set_faults(SLOW)
    batch = wait_for(client, batch_id, finished)

    assert batch.status == "completed"
    assert (batch.request_counts.total, batch.request_counts.completed, batch.request_counts.failed) == (200, 200, 0)
    assert batch.metadata == {"job": "nightly"}
    assert batch.error_file_id is None
    assert batch.created_at <= batch.in_progress_at <= batch.finalizing_at <= batch.completed_at
    output = read_lines(client, batch.output_file_id)
    assert len(output) == 200
    assert {line["custom_id"] for line in output} == {line["custom_id"] for line in lines}
    assert all(line["response"]["status_code"] == 200 and line["error"] is None for line in output)
    by_id = {line["custom_id"]: line for line in output}
    assert by_id["line-007"]["response"]["body"]["choices"][0]["message"]["content"].endswith("heard: question 7")
    assert len({line["id"] for line in output}) == 200
    # Every line was answered once upstream: the failures are the outage's, never a line run twice.
    primary_stats, fallback_stats = primary.stats(), fallback.stats()
    # Executed once each: a line in flight when the runner restarted is sent again under the same
    # Idempotency-Key and answered from the provider's record (a 200 that is not a second execution).
    executed = primary_stats["executions"] + fallback_stats["executions"]
    assert executed == 200
    assert primary_stats["by_status"].get("503", 0) > 0 and fallback_stats["by_status"].get("503", 0) > 0
    assert fallback_stats["by_status"].get("200", 0) >= 40
