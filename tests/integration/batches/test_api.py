"""The Files and Batches endpoints, as the official SDK and plain HTTP see them: shapes, checks, errors."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from integration.batches._support import (
    BatchGateway,
    chat_line,
    finished,
    jsonl,
    raw_request,
    read_lines,
    submit,
    wait_for,
)
from integration.batches.conftest import Start


def test_file_round_trip(client: openai.OpenAI) -> None:
    """What is uploaded is what comes back, byte for byte (CRLF, UTF-8), with OpenAI's File object."""
    content = '{"custom_id": "é", "note": "ligne\\r\\n"}\r\n{"x": 1}\n\n'.encode()
    uploaded = client.files.create(file=("entrée.jsonl", content), purpose="batch")
    assert uploaded.id.startswith("file-")
    assert (uploaded.object, uploaded.purpose, uploaded.bytes, uploaded.filename) == (
        "file", "batch", len(content), "entrée.jsonl")
    assert client.files.retrieve(uploaded.id).model_dump() == uploaded.model_dump()
    assert client.files.content(uploaded.id).content == content


def test_upload_checks(start: Start) -> None:
    """Wrong purpose, missing fields, not a form: 400s that say what to send; too big: 413."""
    _, url = start(max_file_bytes=1000)
    with openai.OpenAI(base_url=f"{url}/v1", api_key="test-client-key", max_retries=0) as client:
        with pytest.raises(openai.BadRequestError, match="purpose' must be 'batch'"):
            client.files.create(file=("a.jsonl", b"{}\n"), purpose="fine-tune")
        with pytest.raises(openai.APIStatusError, match="larger than the limit of 1000 bytes") as too_big:
            client.files.create(file=("a.jsonl", b"x" * 1001), purpose="batch")
        assert too_big.value.status_code == 413
        with pytest.raises(openai.APIStatusError) as far_too_big:
            client.files.create(file=("a.jsonl", b"x" * 200_000), purpose="batch")
        assert far_too_big.value.status_code == 413
    status, _, body = raw_request("POST", f"{url}/v1/files", b'{"purpose": "batch"}')
    assert status == 400 and "multipart/form-data" in body["error"]["message"]
    form = (b'--b\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n--b--\r\n')
    status, _, body = raw_request("POST", f"{url}/v1/files", form, content_type="multipart/form-data; boundary=b")
    assert status == 400 and body["error"]["param"] == "file"


def _create_error(client: openai.OpenAI, content: bytes, **overrides: Any) -> str:
    file_id = client.files.create(file=("in.jsonl", content), purpose="batch").id
    options: dict[str, Any] = {"input_file_id": file_id, "endpoint": "/v1/chat/completions",
                               "completion_window": "24h", **overrides}
    with pytest.raises(openai.BadRequestError) as refused:
        client.batches.create(**options)
    error = refused.value.body
    assert isinstance(error, dict)
    return f"{error['param']}: {error['message']}"


def test_batch_creation_checks(client: openai.OpenAI) -> None:
    """A bad input file or request is refused whole, with a 400 naming the line or the field."""
    good = chat_line("a", "hello")
    assert "line 2 is invalid: not valid JSON" in _create_error(client, jsonl([good]) + b"{oops\n")
    assert "line 1 is invalid: 'url' must be the batch's endpoint" in _create_error(
        client, jsonl([{**good, "url": "/v1/embeddings"}]))
    assert "line 2 is invalid: 'custom_id' 'a' is used twice" in _create_error(client, jsonl([good, good]))
    assert "'method' must be 'POST'" in _create_error(client, jsonl([{**good, "method": "GET"}]))
    assert "'body' must be a JSON object" in _create_error(client, jsonl([{**good, "body": [1]}]))
    assert "'custom_id' must be a non-empty string" in _create_error(client, jsonl([{**good, "custom_id": 7}]))
    assert "has no requests" in _create_error(client, b"\n\n")
    assert _create_error(client, jsonl([good]), endpoint="/v1/completions").startswith(
        "endpoint: 'endpoint' must be one of /v1/chat/completions, /v1/embeddings")
    assert _create_error(client, jsonl([good]), completion_window="48h").startswith("completion_window:")
    assert _create_error(client, jsonl([good]), metadata={"k": "v" * 600}).startswith("metadata:")
    assert _create_error(client, jsonl([good]), input_file_id="file-nope").startswith(
        "input_file_id: No file with id 'file-nope'")
    assert client.batches.list().data == []  # nothing was created


def test_output_file_is_no_input(client: openai.OpenAI) -> None:
    """A batch's output file (purpose batch_output) cannot be the input of another."""
    batch = wait_for(client, submit(client, [chat_line("a", "hello")]), finished)
    assert client.files.retrieve(batch.output_file_id).purpose == "batch_output"
    with pytest.raises(openai.BadRequestError, match="purpose 'batch_output'"):
        client.batches.create(input_file_id=batch.output_file_id, endpoint="/v1/chat/completions",
                              completion_window="24h")


def test_batch_object_shape(client: openai.OpenAI) -> None:
    """The Batch object has every field of OpenAI's, with Unix times and request_counts."""
    batch = client.batches.create(
        input_file_id=client.files.create(file=("in.jsonl", jsonl([chat_line("a", "hi")])), purpose="batch").id,
        endpoint="/v1/chat/completions", completion_window="24h", metadata={"team": "support"})
    assert batch.id.startswith("batch_") and batch.object == "batch"
    assert batch.status == "in_progress" and batch.request_counts is not None
    assert batch.request_counts.total == 1
    assert batch.expires_at == batch.created_at + 24 * 3600
    assert batch.metadata == {"team": "support"}
    done = wait_for(client, batch.id, finished)
    assert done.status == "completed" and done.output_file_id and done.completed_at


def test_list_pages_newest_first(client: openai.OpenAI) -> None:
    """limit/after pages, newest first, with first_id/last_id/has_more; the SDK's auto-paging sees them all."""
    created = [submit(client, [chat_line("a", f"batch {n}")]) for n in range(5)]
    first = client.batches.list(limit=2)
    assert [b.id for b in first.data] == created[:-3:-1]
    assert first.has_more
    everything = [b.id for b in client.batches.list(limit=2)]  # iterating follows `after` = last_id
    assert everything == created[::-1]


def test_list_limit_and_raw_shape(gateway: tuple[BatchGateway, str], client: openai.OpenAI) -> None:
    _, url = gateway
    batch_id = submit(client, [chat_line("a", "hello")])
    status, _, page = raw_request("GET", f"{url}/v1/batches?limit=1")
    assert status == 200
    assert page["object"] == "list" and page["first_id"] == page["last_id"] == batch_id
    assert page["has_more"] is False
    status, _, body = raw_request("GET", f"{url}/v1/batches?limit=0")
    assert status == 400 and body["error"]["param"] == "limit"
    status, _, page = raw_request("GET", f"{url}/v1/batches?after=batch_unknown")
    assert status == 200 and page["data"] == [] and page["first_id"] is None


def test_not_found_and_wrong_method(gateway: tuple[BatchGateway, str], client: openai.OpenAI) -> None:
    _, url = gateway
    with pytest.raises(openai.NotFoundError, match="No batch with id 'batch_nope'"):
        client.batches.retrieve("batch_nope")
    with pytest.raises(openai.NotFoundError):
        client.batches.cancel("batch_nope")
    with pytest.raises(openai.NotFoundError, match="No file with id 'file-nope'"):
        client.files.retrieve("file-nope")
    with pytest.raises(openai.NotFoundError):
        client.files.content("file-nope")
    for path in ("/v1/batches/batch_x/results", "/v1/files/file-x/content/more"):
        status, _, body = raw_request("GET", url + path)
        assert status == 404 and body["error"]["code"] == "not_found"
    status, headers, body = raw_request("DELETE", f"{url}/v1/batches")
    assert status == 405 and headers["allow"] == "GET, POST"
    assert body["error"]["code"] == "method_not_allowed"


def test_keys_are_required(gateway: tuple[BatchGateway, str]) -> None:
    _, url = gateway
    for method, path in (("GET", "/v1/batches"), ("POST", "/v1/files"), ("GET", "/v1/files/file-x")):
        status, _, body = raw_request(method, url + path, key=None)
        assert status == 401 and body["error"]["type"] == "authentication_error"
    status, _, _ = raw_request("GET", f"{url}/v1/batches", key="wrong")
    assert status == 401


def test_output_lines_follow_openai(client: openai.OpenAI) -> None:
    """{id, custom_id, response: {status_code, request_id, body}, error} per line, ids stable and unique."""
    batch = wait_for(client, submit(client, [chat_line("x", "one"), chat_line("y", "two")]), finished)
    lines = read_lines(client, batch.output_file_id)
    assert [line["custom_id"] for line in lines] == ["x", "y"]
    for line in lines:
        assert set(line) == {"id", "custom_id", "response", "error"}
        assert line["id"].startswith("batch_req_") and line["error"] is None
        assert set(line["response"]) == {"status_code", "request_id", "body"}
        assert line["response"]["request_id"].startswith("req_")
        assert line["response"]["body"]["object"] == "chat.completion"


def _form(boundary: bytes, content: bytes, *, preamble: bytes = b"", filename: bytes = b'filename="in.jsonl"') -> bytes:
    return (preamble + b"--" + boundary + b"\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n"
            b"--" + boundary + b"\r\nContent-Disposition: form-data; name=\"file\"; " + filename +
            b"\r\nContent-Type: application/octet-stream\r\n\r\n" + content + b"\r\n--" + boundary + b"--\r\n")


def test_multipart_forms_as_other_clients_send_them(gateway: tuple[BatchGateway, str],
                                                     client: openai.OpenAI) -> None:
    """Preambles, quoted boundaries, RFC 2231 and raw UTF-8 filenames, content that looks like a boundary."""
    _, url = gateway
    cases = [
        ("multipart/form-data; boundary=xyz", _form(b"xyz", b"--xy\r\n--xyzz not it\r\n")),
        ('multipart/form-data; boundary="a b"', _form(b"a b", b"", preamble=b"ignored\r\n")),
        ("multipart/form-data; boundary=q", _form(b"q", b"\r\n\r\n", filename='filename="entrée.jsonl"'.encode())),
        ("multipart/form-data; boundary=q", _form(b"q", b"x", filename=b"filename*=UTF-8''entr%C3%A9e.jsonl")),
    ]
    for content_type, form in cases:
        status, _, uploaded = raw_request("POST", f"{url}/v1/files", form, content_type=content_type)
        assert status == 200, uploaded
        start = form.index(b"octet-stream\r\n\r\n") + len(b"octet-stream\r\n\r\n")
        expected = form[start:form.rindex(b"\r\n--")]
        assert client.files.content(uploaded["id"]).content == expected
        assert uploaded["filename"] in ("in.jsonl", "entrée.jsonl")
    for content_type, form in [("multipart/form-data", _form(b"q", b"x")),
                               ("multipart/form-data; boundary=other", _form(b"q", b"x")),
                               ("multipart/form-data; boundary=q", _form(b"q", b"x")[:-8])]:
        status, _, refused = raw_request("POST", f"{url}/v1/files", form, content_type=content_type)
        assert status == 400 and refused["error"]["code"] == "invalid_multipart", refused
