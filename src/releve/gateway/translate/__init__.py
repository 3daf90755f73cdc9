"""Pure format translators between OpenAI's Chat Completions format (Relève's internal model) and the others.

No I/O and no clock: dicts in, dicts out, parsed once with orjson at the
edge. OpenAI-to-OpenAI traffic never comes here; it is forwarded as bytes.

    Anthropic upstream   openai_request_to_anthropic, anthropic_response_to_openai, AnthropicStreamToOpenAI
    Anthropic inbound    anthropic_request_to_openai, openai_response_to_anthropic, OpenAIStreamToAnthropic,
                         anthropic_error_body
    Gemini upstream      openai_request_to_gemini, gemini_response_to_openai, GeminiStreamToOpenAI
    Server-sent events   SSEParser, SSEEvent, encode_sse

Architecture Invariant: a translator carries a field exactly or raises
`releve.errors.Untranslatable` naming it, so the router can skip that target
and say why. The few things dropped on purpose (hints that change nothing the
model generates, such as `cache_control` or an image's `detail`) are named in
comments where they are dropped.
"""

from ._anthropic_inbound import anthropic_error_body, anthropic_request_to_openai, openai_response_to_anthropic
from ._anthropic_inbound_stream import OpenAIStreamToAnthropic
from ._anthropic_upstream import anthropic_response_to_openai, openai_request_to_anthropic
from ._anthropic_upstream_stream import AnthropicStreamToOpenAI
from ._common import StreamError
from ._gemini import gemini_response_to_openai, openai_request_to_gemini
from ._gemini_stream import GeminiStreamToOpenAI
from ._sse import SSEEvent, SSEParser, encode_sse

__all__ = [
    "AnthropicStreamToOpenAI",
    "GeminiStreamToOpenAI",
    "OpenAIStreamToAnthropic",
    "SSEEvent",
    "SSEParser",
    "StreamError",
    "anthropic_error_body",
    "anthropic_request_to_openai",
    "anthropic_response_to_openai",
    "encode_sse",
    "gemini_response_to_openai",
    "openai_request_to_anthropic",
    "openai_request_to_gemini",
    "openai_response_to_anthropic",
]
