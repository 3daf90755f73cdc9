"""Gemini's streamGenerateContent (alt=sse) to OpenAI chunks."""

from __future__ import annotations

from ._common import JSON, StreamError, chunk, usage_chunk
from ._gemini import call_id, candidate_parts, finish_reason, gemini_usage_to_openai, tool_call

__all__ = ["GeminiStreamToOpenAI"]


class GeminiStreamToOpenAI:
    """Each `data:` object of streamGenerateContent (a partial response) in, OpenAI chunks out.

    Gemini sends each function call whole, so a call becomes one tool_calls
    delta carrying its id, name and complete arguments.
    """

    __slots__ = ("_calls", "_created", "_done", "_id", "_include_usage", "_model", "_started", "_usage")

    def __init__(self, model: str, *, include_usage: bool = False, created: int = 0) -> None:
        self._model = model
        self._include_usage = include_usage
        self._created = created
        self._id = ""
        self._calls = 0
        self._started = False
        self._done = False
        self._usage: object = None

    def _chunk(self, delta: JSON, reason: str | None = None) -> JSON:
        return chunk(f"chatcmpl-{self._id}", self._created, self._model, delta, reason, usage_field=self._include_usage)

    def feed(self, data: JSON) -> list[JSON]:
        error = data.get("error")
        if isinstance(error, dict):
            raise StreamError(
                str(error.get("message", "upstream stream error")), error_type=str(error.get("status") or "api_error")
            )
        if self._done:
            return []
        out: list[JSON] = []
        if not self._started:
            self._started = True
            self._id = str(data.get("responseId") or "")
            out.append(self._chunk({"role": "assistant", "content": ""}))
        if data.get("usageMetadata"):
            self._usage = data["usageMetadata"]
        candidates = data.get("candidates") or []
        candidate = candidates[0] if candidates else {}
        texts: list[str] = []
        for kind, value in candidate_parts(candidate, "candidates[0].content"):
            if kind == "text":
                texts.append(value)
                continue
            if texts:
                out.append(self._chunk({"content": "".join(texts)}))
                texts = []
            call = {"index": self._calls, **tool_call(value, call_id(self._id, self._calls))}
            self._calls += 1
            out.append(self._chunk({"tool_calls": [call]}))
        if texts and "".join(texts):
            out.append(self._chunk({"content": "".join(texts)}))
        reason = candidate.get("finishReason")
        if reason or not candidates and (data.get("promptFeedback") or {}).get("blockReason"):
            self._done = True
            out.append(self._chunk({}, finish_reason(reason or "", self._calls > 0)))
            if self._include_usage:
                out.append(
                    usage_chunk(f"chatcmpl-{self._id}", self._created, self._model, gemini_usage_to_openai(self._usage))
                )
        return out
