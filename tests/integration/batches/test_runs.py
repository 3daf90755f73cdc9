"""How lines run: error lines, embeddings, cancel, expiry, a runner driven by hand."""

from __future__ import annotations

from datetime import timedelta

import openai
import pytest

from integration.batches._support import (
    BatchGateway,
    chat_line,
    finished,
    read_lines,
    sdk,
    submit,
    wait_for,
)
from integration.batches.conftest import Start
from releve.sim import SimulatorThread


def test_refused_lines_go_to_the_error_file(client: openai.OpenAI) -> None:
    """A line Relève refuses (unknown model, bad body, stream) answers like a direct call would, in the error file."""
    lines = [chat_line("good", "hello"), chat_line("unknown", "hello", model="gpt-nope"),
             {**chat_line("no-messages", "x"), "body": {"model": "assistant"}},
             chat_line("streamed", "hello", stream=True), chat_line("bad-tokens", "x", max_tokens=0)]
    batch = wait_for(client, submit(client, lines), finished)
    assert batch.status == "completed"
    assert (batch.request_counts.total, batch.request_counts.completed, batch.request_counts.failed) == (5, 1, 4)
    assert [line["custom_id"] for line in read_lines(client, batch.output_file_id)] == ["good"]
    errors = {line["custom_id"]: line for line in read_lines(client, batch.error_file_id)}
    assert list(errors) == ["unknown", "no-messages", "streamed", "bad-tokens"]  # file order
    unknown = errors["unknown"]["response"]
    assert unknown["status_code"] == 404
    assert unknown["body"]["error"]["code"] == "model_not_found"
    assert "Routes: assistant, solo" in unknown["body"]["error"]["message"]
    assert errors["no-messages"]["response"]["status_code"] == 400
    assert errors["no-messages"]["response"]["body"]["error"]["param"] == "messages"
    assert errors["streamed"]["response"]["body"]["error"]["param"] == "stream"
    assert errors["bad-tokens"]["response"]["body"]["error"]["param"] == "max_tokens"
    assert all(line["error"] is None and line["response"]["request_id"] for line in errors.values())


def test_provider_refusal_is_an_error_line_not_an_outage(client: openai.OpenAI, primary: SimulatorThread,
                                                         fallback: SimulatorThread) -> None:
    """A 400 from the provider is the request's own fault: relayed in the error file, not retried elsewhere."""
    primary.set_faults({"kind": "status", "status": 400})
    batch = wait_for(client, submit(client, [chat_line("refused", "hello")]), finished)
    assert batch.status == "completed" and batch.request_counts.failed == 1
    [line] = read_lines(client, batch.error_file_id)
    assert line["response"]["status_code"] == 400
    assert line["response"]["body"]["error"]["message"]
    assert fallback.stats()["requests"] == 0
    assert batch.output_file_id is None


def test_embeddings_batch(client: openai.OpenAI) -> None:
    lines = [{"custom_id": f"e{n}", "method": "POST", "url": "/v1/embeddings",
              "body": {"model": "assistant", "input": f"text {n}"}} for n in range(3)]
    lines.append({"custom_id": "empty", "method": "POST", "url": "/v1/embeddings",
                  "body": {"model": "assistant", "input": ""}})
    batch = wait_for(client, submit(client, lines, endpoint="/v1/embeddings"), finished)
    assert batch.endpoint == "/v1/embeddings"
    assert (batch.request_counts.completed, batch.request_counts.failed) == (3, 1)
    output = read_lines(client, batch.output_file_id)
    assert all(line["response"]["body"]["data"][0]["embedding"] for line in output)
    [empty] = read_lines(client, batch.error_file_id)
    assert empty["response"]["body"]["error"]["param"] == "input"


def test_cancel_finishes_running_lines_and_keeps_their_output(start: Start, primary: SimulatorThread) -> None:
    primary.set_faults({"kind": "latency", "ms": 100})
    _, url = start(concurrency=2)
    for client in sdk(url):
        batch_id = submit(client, [chat_line(f"c{n}", f"q{n}") for n in range(20)])
        wait_for(client, batch_id, lambda b: b.request_counts.completed >= 2)
        cancelling = client.batches.cancel(batch_id)
        assert cancelling.status in ("cancelling", "cancelled") and cancelling.cancelling_at
        batch = wait_for(client, batch_id, finished)
        assert batch.status == "cancelled" and batch.cancelled_at
        assert batch.request_counts.failed == 0 and 2 <= batch.request_counts.completed < 20
        output = read_lines(client, batch.output_file_id)
        assert len(output) == batch.request_counts.completed
        assert all(line["response"]["status_code"] == 200 for line in output)
        unrun = read_lines(client, batch.error_file_id)
        assert len(unrun) == 20 - len(output)
        assert {line["error"]["code"] for line in unrun} == {"batch_cancelled"}
        assert {line["custom_id"] for line in output + unrun} == {f"c{n}" for n in range(20)}
        assert client.batches.cancel(batch_id).status == "cancelled"  # again: nothing changes
        done = wait_for(client, submit(client, [chat_line("x", "y")]), finished)
        with pytest.raises(openai.ConflictError, match="is completed"):
            client.batches.cancel(done.id)


def test_expiry_ends_the_batch_with_what_finished(gateway: tuple[BatchGateway, str], client: openai.OpenAI,
                                                  primary: SimulatorThread, fallback: SimulatorThread) -> None:
    """Past its 24 h window a batch still waiting on an outage expires; the lines that ran are kept."""
    app, _ = gateway
    batch_id = submit(client, [chat_line(f"x{n}", "hello") for n in range(10)])
    wait_for(client, batch_id, finished)
    for sim in (primary, fallback):
        sim.set_faults({"kind": "status", "status": 503})
    batch_id = submit(client, [chat_line(f"y{n}", "hello") for n in range(10)])
    app.skipped = timedelta(hours=24, seconds=1)
    batch = wait_for(client, batch_id, finished)
    assert batch.status == "expired" and batch.expired_at
    assert batch.request_counts.completed == batch.request_counts.failed == 0
    assert batch.output_file_id is None
    unrun = read_lines(client, batch.error_file_id)
    assert [line["custom_id"] for line in unrun] == [f"y{n}" for n in range(10)]
    assert unrun[0]["error"] == {"code": "batch_expired",
                                 "message": "This request could not be executed before the completion window "
                                            "expired."}


def test_run_once_and_close_leave_nothing_half_done(start: Start, primary: SimulatorThread,
                                                    fallback: SimulatorThread) -> None:
    """Without the background loop, run_once works a batch to its end; close() during an outage leaves the
    lines pending and the lease free, so the next runner takes the batch at once."""
    app, url = start(background=False, lease_seconds=60.0)
    for client in sdk(url):
        batch_id = submit(client, [chat_line(f"r{n}", "hello") for n in range(12)])
        assert app.call(app.runner.run_once()) == 1
        assert client.batches.retrieve(batch_id).status == "completed"
        assert app.call(app.runner.run_once()) == 0  # nothing left to claim

        for sim in (primary, fallback):
            sim.set_faults({"kind": "status", "status": 503})
        batch_id = submit(client, [chat_line(f"s{n}", "hello") for n in range(12)])
        app.call(app.runner.start())
        wait_for(client, batch_id, lambda b: primary.stats()["requests"] > 0)
        app.call(app.runner.close())
        left = client.batches.retrieve(batch_id)
        assert left.status == "in_progress" and left.request_counts.completed == left.request_counts.failed == 0
        for sim in (primary, fallback):
            sim.clear_faults()
        app.runner = app.new_runner()
        assert app.call(app.runner.run_once()) == 1  # not held back by the closed runner's lease
        batch = client.batches.retrieve(batch_id)
        assert (batch.status, batch.request_counts.completed) == ("completed", 12)


def test_each_line_carries_its_own_idempotency_key_upstream(client: openai.OpenAI, primary: SimulatorThread) -> None:
    """A line run again (its replica died mid-request) sends the same key: the provider executes it once."""
    batch_id = submit(client, [chat_line(f"k{n}", f"question {n}") for n in range(3)])
    batch = wait_for(client, batch_id, finished)
    assert batch.status == "completed"
    keys = sorted(r["idempotency_key"] for r in primary.stats()["received"])
    assert keys == [f"releve-batch-{batch_id}-{n}:p-model" for n in range(3)]
