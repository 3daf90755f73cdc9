"""Server-sent events: the incremental parser and the encoder, against any split of the byte stream."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from releve.gateway.translate import SSEEvent, SSEParser, encode_sse

RECORDED = Path(__file__).parent / "recorded"


def parse_in_pieces(data: bytes, cuts: list[int]) -> list[SSEEvent]:
    parser = SSEParser()
    events: list[SSEEvent] = []
    start = 0
    for cut in sorted(cuts):
        events += parser.feed(data[start:cut])
        start = cut
    return events + parser.feed(data[start:])


def test_reads_event_names_and_data() -> None:
    """An `event:` line names the event; `data:` lines carry its payload; a blank line dispatches it."""
    events = SSEParser().feed(b'event: ping\ndata: {"type": "ping"}\n\ndata: next\n\n')
    assert events == [SSEEvent("ping", '{"type": "ping"}'), SSEEvent(None, "next")]


def test_joins_multi_line_data_with_newlines() -> None:
    """Several data lines in one event are joined by newlines, and one leading space is removed from each."""
    assert SSEParser().feed(b"data: a\ndata:b\ndata:  c\n\n") == [SSEEvent(None, "a\nb\n c")]


def test_ignores_comments_ids_retries_and_unknown_fields() -> None:
    """Keep-alive comments, `id`, `retry` and unknown fields never reach the caller."""
    stream = b": keep-alive\nid: 7\nretry: 1000\nfoo: bar\ndata: x\n\n: another\n\n"
    assert SSEParser().feed(stream) == [SSEEvent(None, "x")]


def test_accepts_crlf_and_lone_cr_line_endings() -> None:
    """Lines may end with CRLF, LF or a lone CR, even mixed in one stream."""
    stream = b"event: a\r\ndata: 1\r\n\r\nevent: b\rdata: 2\r\rdata: 3\n\n"
    assert SSEParser().feed(stream) == [SSEEvent("a", "1"), SSEEvent("b", "2"), SSEEvent(None, "3")]


def test_crlf_split_between_chunks_is_one_line_end() -> None:
    """A CR at the end of one chunk and the LF starting the next make one line ending, not two."""
    parser = SSEParser()
    assert parser.feed(b"data: 1\r") == []
    assert parser.feed(b"\n") == []
    assert parser.feed(b"data: 2\r\n\r") == [SSEEvent(None, "1\n2")]
    assert parser.feed(b"\ndata: 3\n\n") == [SSEEvent(None, "3")]


def test_event_without_data_is_not_dispatched_and_resets_the_name() -> None:
    """An event with no data line dispatches nothing, and its name does not leak into the next event."""
    assert SSEParser().feed(b"event: lost\n\ndata: x\n\n") == [SSEEvent(None, "x")]


def test_empty_data_line_dispatches_an_empty_event() -> None:
    """`data:` with nothing after it still makes an event, with empty data."""
    assert SSEParser().feed(b"data:\n\n") == [SSEEvent(None, "")]


def test_unterminated_last_event_is_dropped() -> None:
    """An event cut off before its blank line is never dispatched, as the standard says."""
    assert SSEParser().feed(b"data: complete\n\ndata: cut off\n") == [SSEEvent(None, "complete")]


def test_strips_a_leading_byte_order_mark_even_when_split() -> None:
    """A UTF-8 BOM at the very start is not part of the first field name, however it is split."""
    parser = SSEParser()
    assert parser.feed(b"\xef") == []
    assert parser.feed(b"\xbb\xbfdata: x\n\n") == [SSEEvent(None, "x")]


def test_utf8_character_split_across_chunks_is_decoded_whole() -> None:
    """A multi-byte character split by a chunk boundary arrives intact."""
    data = "data: météo\n\n".encode()
    assert parse_in_pieces(data, [8]) == [SSEEvent(None, "météo")]


@pytest.mark.parametrize(
    "name", ["anthropic_stream_tool_use.sse", "openai_stream_tool_calls.sse", "gemini_stream_function_calls.sse"]
)
# No deadline: these check what comes out, not how fast, and CI machines are shared.
@settings(deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=4000), max_size=40))
def test_any_split_of_a_recorded_stream_yields_the_same_events(name: str, cuts: list[int]) -> None:
    """Cutting a recorded provider stream anywhere, into any number of chunks, changes no event."""
    data = (RECORDED / name).read_bytes()
    whole = SSEParser().feed(data)
    assert whole
    assert parse_in_pieces(data, [cut % (len(data) + 1) for cut in cuts]) == whole


events_strategy = st.lists(
    st.tuples(
        # Lone surrogates cannot be encoded as UTF-8, so they cannot be on the wire at all.
        st.none() | st.text(alphabet=st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)),
                            min_size=1, max_size=10),
        st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30),
    ),
    max_size=5,
)


@settings(deadline=None)
@given(events=events_strategy, cuts=st.lists(st.integers(min_value=0, max_value=500), max_size=20))
def test_encoded_events_parse_back_exactly_under_any_split(
    events: list[tuple[str | None, str]], cuts: list[int]
) -> None:
    """Whatever the data (newlines and CRs included), encode_sse then SSEParser gives it back."""
    stream = b"".join(encode_sse(data.encode(), name) for name, data in events)
    parsed = parse_in_pieces(stream, [cut % (len(stream) + 1) for cut in cuts])
    expected = [SSEEvent(name or None, data.replace("\r\n", "\n").replace("\r", "\n")) for name, data in events]
    assert parsed == expected


def test_encode_writes_one_data_line_per_line() -> None:
    """encode_sse puts the event name first and one `data:` line per line, then a blank line."""
    assert encode_sse(b'{"a":1}', "message_start") == b'event: message_start\ndata: {"a":1}\n\n'
    assert encode_sse(b"x\ny") == b"data: x\ndata: y\n\n"


def test_encode_refuses_an_event_name_with_a_line_break() -> None:
    """An event name with a newline would forge another field, so it is refused."""
    with pytest.raises(ValueError, match="line break"):
        encode_sse(b"x", "a\ndata: forged")


def test_a_cr_at_a_chunk_end_followed_by_text_is_a_line_end() -> None:
    """A CR ending one chunk, followed by anything but LF, already ended the line."""
    parser = SSEParser()
    assert parser.feed(b"data: 1\r") == []
    assert parser.feed(b"data: 2\n\n") == [SSEEvent(None, "1\n2")]
