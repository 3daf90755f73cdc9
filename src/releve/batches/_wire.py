"""OpenAI's Batch API wire format: File and Batch objects, input lines, output and error lines, uploads.

Everything here is pure (no I/O), so the API and the runner share one definition of each shape, and the
shapes follow OpenAI's exactly: an SDK written for OpenAI reads them unchanged.
"""

from __future__ import annotations

import email.parser
import email.policy
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

import orjson

from releve.errors import InvalidRequest
from releve.store import BatchLine, BatchRecord, FileRecord

__all__ = [
    "ENDPOINTS",
    "MAX_LINES",
    "Upload",
    "batch_json",
    "file_json",
    "list_json",
    "not_found",
    "output_line",
    "parse_batch_request",
    "parse_input_file",
    "parse_upload",
    "query_params",
    "unrun_line",
]

ENDPOINTS = ("/v1/chat/completions", "/v1/embeddings")
MAX_LINES = 50_000          # OpenAI's limit per batch
_METADATA_KEYS = 16
_HEADERS = email.parser.HeaderParser(policy=email.policy.HTTP)
_BYTES_HEADERS = email.parser.BytesHeaderParser(policy=email.policy.HTTP)
_REQUEST_FIELDS = frozenset({"input_file_id", "endpoint", "completion_window", "metadata", "output_expires_after"})


def _seconds(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp())


def file_json(record: FileRecord) -> dict[str, Any]:
    """OpenAI's File object; `status` is deprecated there, but SDKs still expect it."""
    return {"id": record.id, "object": "file", "bytes": record.bytes, "created_at": _seconds(record.created_at),
            "filename": record.filename, "purpose": record.purpose, "status": "processed", "expires_at": None,
            "status_details": None}


def batch_json(batch: BatchRecord) -> dict[str, Any]:
    """OpenAI's Batch object: timestamps in Unix seconds, counts under `request_counts`."""
    return {
        "id": batch.id, "object": "batch", "endpoint": batch.endpoint, "errors": batch.errors,
        "input_file_id": batch.input_file_id, "completion_window": batch.completion_window, "status": batch.status,
        "output_file_id": batch.output_file_id, "error_file_id": batch.error_file_id,
        "created_at": _seconds(batch.created_at), "in_progress_at": _seconds(batch.in_progress_at),
        "expires_at": _seconds(batch.expires_at), "finalizing_at": _seconds(batch.finalizing_at),
        "completed_at": _seconds(batch.completed_at), "failed_at": _seconds(batch.failed_at),
        "expired_at": _seconds(batch.expired_at), "cancelling_at": _seconds(batch.cancelling_at),
        "cancelled_at": _seconds(batch.cancelled_at),
        "request_counts": {"total": batch.total, "completed": batch.completed, "failed": batch.failed},
        "metadata": batch.metadata,
    }


def list_json(batches: list[BatchRecord], *, has_more: bool) -> dict[str, Any]:
    """A cursor page, as OpenAI's SDKs page through it (`after` = `last_id`)."""
    return {"object": "list", "data": [batch_json(batch) for batch in batches],
            "first_id": batches[0].id if batches else None, "last_id": batches[-1].id if batches else None,
            "has_more": has_more}


def not_found(what: str, ident: str) -> InvalidRequest:
    return InvalidRequest(f"No {what} with id '{ident}'.", status=404, code="not_found")


# --- uploads ---------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Upload:
    purpose: str
    filename: str
    content: bytes


def parse_upload(content_type: str, body: bytes, *, max_file_bytes: int) -> Upload:
    """The `purpose` and `file` fields of a multipart/form-data body (run it in a thread: it copies the file)."""
    fields = _form_fields(content_type, body)
    if "file" not in fields:
        raise InvalidRequest("The form has no 'file' field.", param="file")
    if "purpose" not in fields:
        raise InvalidRequest("The form has no 'purpose' field.", param="purpose")
    purpose = fields["purpose"][1].decode("utf-8", "replace").strip()
    if purpose != "batch":
        raise InvalidRequest(f"Relève keeps files for the Batch API only: 'purpose' must be 'batch', not "
                             f"{purpose!r}.", param="purpose", code="invalid_purpose")
    filename, content = fields["file"]
    if len(content) > max_file_bytes:
        raise InvalidRequest(f"The file is larger than the limit of {max_file_bytes} bytes.", status=413,
                             code="file_too_large", param="file")
    return Upload(purpose, filename or "upload.jsonl", content)


def _form_fields(content_type: str, body: bytes) -> dict[str, tuple[str | None, bytes]]:
    """name -> (filename, content) of each part; the first of a repeated name wins.

    No multipart library is installed. Headers (the boundary, each part's Content-Disposition with its
    quoting and RFC 2231 filenames) are read by the standard library's `email` parser; the body is cut at
    the boundaries with `bytes.find`. Giving the whole body to `email.parser.BytesParser` would work too,
    but it decodes it to text line by line: about 9 times the upload's size in memory, 1.8 GB for 200 MB.
    """
    if not content_type.lower().startswith("multipart/form-data"):
        raise InvalidRequest("Send the file as multipart/form-data with the fields 'purpose' and 'file'.",
                             code="invalid_content_type")
    boundary = _HEADERS.parsestr(f"Content-Type: {content_type}\r\n\r\n").get_boundary()
    if not boundary:
        raise _bad_form("its Content-Type has no boundary")
    delimiter = b"\r\n--" + boundary.encode("latin-1")
    # The first delimiter opens the body (no CRLF before it), or follows a preamble.
    if body.startswith(delimiter[2:]):
        position = len(delimiter) - 2
    else:
        position = _delimiter(body, delimiter, 0)
        if position < 0:
            raise _bad_form("the boundary is not in the body")
        position += len(delimiter)
    fields: dict[str, tuple[str | None, bytes]] = {}
    while not body.startswith(b"--", position):  # "--" after a delimiter closes the form
        start = body.find(b"\r\n", position) + 2
        end = _delimiter(body, delimiter, start)
        if start < 2 or end < 0:
            raise _bad_form("a part is not closed by the boundary")
        if body.startswith(b"\r\n", start):  # a part without headers has no name: skipped
            position = end + len(delimiter)
            continue
        blank = body.find(b"\r\n\r\n", start, end)
        if blank < 0:
            raise _bad_form("a part's headers do not end")
        headers = _BYTES_HEADERS.parsebytes(body[start:blank + 4])
        name = headers.get_param("name", header="content-disposition")
        if isinstance(name, str) and name not in fields:
            fields[name] = (headers.get_filename(), body[blank + 4:end])
        position = end + len(delimiter)
    return fields


def _delimiter(body: bytes, delimiter: bytes, start: int) -> int:
    """Where the next delimiter begins (-1: none): the boundary followed by "--", padding or CRLF, not a longer
    word that starts with it."""
    while (found := body.find(delimiter, start)) >= 0:
        follows = body[found + len(delimiter):found + len(delimiter) + 2]
        if follows in (b"--", b"\r\n") or follows[:1] in (b" ", b"\t"):
            return found
        start = found + 1
    return -1


def _bad_form(problem: str) -> InvalidRequest:
    return InvalidRequest(f"The multipart/form-data body could not be read: {problem}.", code="invalid_multipart")


# --- creating a batch ------------------------------------------------------------------------------

def parse_batch_request(raw: bytes) -> tuple[str, str, str, dict[str, str] | None]:
    """(input_file_id, endpoint, completion_window, metadata) from a `POST /v1/batches` body."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"Request body is not valid JSON: {exc.msg}.", code="invalid_json") from None
    if not isinstance(body, dict):
        raise InvalidRequest("Request body must be a JSON object.", code="invalid_json")
    unknown = sorted(set(body) - _REQUEST_FIELDS)
    if unknown:
        raise InvalidRequest(f"Unrecognized request argument: '{unknown[0]}'.", param=unknown[0],
                             code="unknown_parameter")
    file_id = body.get("input_file_id")
    if not isinstance(file_id, str) or not file_id:
        raise InvalidRequest("'input_file_id' is required: the id of a file uploaded with purpose 'batch'.",
                             param="input_file_id")
    endpoint = body.get("endpoint")
    if endpoint not in ENDPOINTS:
        raise InvalidRequest(f"'endpoint' must be one of {', '.join(ENDPOINTS)} (got {endpoint!r}).",
                             param="endpoint", code="unsupported_endpoint")
    window = body.get("completion_window")
    if window != "24h":
        raise InvalidRequest(f"'completion_window' must be '24h' (got {window!r}).", param="completion_window")
    # `output_expires_after` is accepted for compatibility and ignored: Relève keeps output files.
    return file_id, endpoint, window, _metadata(body.get("metadata"))


def _metadata(value: Any) -> dict[str, str] | None:
    if value is None:
        return None
    if (not isinstance(value, dict) or len(value) > _METADATA_KEYS
            or not all(isinstance(k, str) and isinstance(v, str) and len(k) <= 64 and len(v) <= 512
                       for k, v in value.items())):
        raise InvalidRequest("'metadata' must be an object of at most 16 string values (keys up to 64 "
                             "characters, values up to 512).", param="metadata")
    return dict(value)


def parse_input_file(content: bytes, endpoint: str) -> list[tuple[str, dict[str, Any]]]:
    """(custom_id, body) per line, or a 400 naming the first bad line (1-based, as editors count).

    Only the line's envelope is checked here; each body is checked when it runs, as the same request sent
    to `endpoint` directly would be, and a bad one becomes a line of the error file.
    """
    lines: list[tuple[str, dict[str, Any]]] = []
    seen: set[str] = set()
    for number, raw in enumerate(content.split(b"\n"), start=1):
        if not raw.strip():
            continue
        if len(lines) == MAX_LINES:
            raise _bad_line(number, f"a batch holds at most {MAX_LINES} requests")
        try:
            line = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise _bad_line(number, f"not valid JSON ({exc.msg})") from None
        if not isinstance(line, dict):
            raise _bad_line(number, "each line must be a JSON object")
        custom_id = line.get("custom_id")
        if not isinstance(custom_id, str) or not custom_id:
            raise _bad_line(number, "'custom_id' must be a non-empty string")
        if custom_id in seen:
            raise _bad_line(number, f"'custom_id' {custom_id!r} is used twice; each must be unique")
        if line.get("method") != "POST":
            raise _bad_line(number, "'method' must be 'POST'")
        if line.get("url") != endpoint:
            raise _bad_line(number, f"'url' must be the batch's endpoint, {endpoint} (got {line.get('url')!r})")
        body = line.get("body")
        if not isinstance(body, dict):
            raise _bad_line(number, "'body' must be a JSON object")
        seen.add(custom_id)
        lines.append((custom_id, body))
    if not lines:
        raise InvalidRequest("The input file has no requests.", param="input_file_id", code="empty_file")
    return lines


def _bad_line(number: int, problem: str) -> InvalidRequest:
    return InvalidRequest(f"The input file's line {number} is invalid: {problem}.", param="input_file_id",
                          code="invalid_batch_line")


# --- output and error files ------------------------------------------------------------------------

def _line_id(line: BatchLine) -> str:
    """Stable per line, so that output files written again after a restart are the same."""
    return "batch_req_" + hashlib.sha256(f"{line.batch_id}:{line.line_no}".encode()).hexdigest()[:32]


def output_line(line: BatchLine) -> bytes:
    """A finished line (done or error) as OpenAI writes it: the HTTP answer the request got, or `error`."""
    response = None
    if line.response_status is not None:
        response = {"status_code": line.response_status, "request_id": line.request_id, "body": line.response_body}
    return orjson.dumps({"id": _line_id(line), "custom_id": line.custom_id, "response": response,
                         "error": line.error}) + b"\n"


def unrun_line(line: BatchLine, code: str, message: str) -> bytes:
    """An error-file line for a request that never ran (batch expired or cancelled first)."""
    return orjson.dumps({"id": _line_id(line), "custom_id": line.custom_id, "response": None,
                         "error": {"code": code, "message": message}}) + b"\n"


def query_params(query_string: bytes) -> Mapping[str, str]:
    return dict(parse_qsl(query_string.decode("latin-1")))
