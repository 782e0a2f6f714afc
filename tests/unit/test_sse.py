"""The SSE decoder against the WHATWG text/event-stream rules, whole and split at any byte."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from llms_desktop.sse import ServerSentEvent, SSEDecoder
from tests.support.loopback import FIXTURES


def decode(*chunks: bytes) -> list[ServerSentEvent]:
    decoder = SSEDecoder()
    events: list[ServerSentEvent] = []
    for chunk in chunks:
        events.extend(decoder.feed(chunk))
    events.extend(decoder.close())
    return events


def datas(*chunks: bytes) -> list[str]:
    return [event.data for event in decode(*chunks)]


def test_lf_cr_and_crlf_line_ends_are_equivalent() -> None:
    for end in (b"\n", b"\r", b"\r\n"):
        body = b"data: one" + end + end + b"data: two" + end + end
        assert datas(body) == ["one", "two"], end


def test_cr_at_chunk_end_and_lf_at_next_chunk_start_is_one_line_end() -> None:
    # If the LF after a split CR counted as an empty line, "a" and "b" would be two events.
    assert datas(b"data: a\r", b"\ndata: b\r\n\r\n") == ["a\nb"]


def test_cr_split_then_blank_line_dispatches_once() -> None:
    assert datas(b"data: a\r", b"\n\r", b"\n") == ["a"]


def test_multi_line_data_joined_with_newline() -> None:
    assert datas(b"data: first\ndata: second\ndata\ndata:third\n\n") == ["first\nsecond\n\nthird"]


def test_only_one_leading_space_is_stripped() -> None:
    assert datas(b"data:  two spaces\n\n") == [" two spaces"]


def test_comments_are_ignored() -> None:
    assert datas(b": ping\n\n: another\ndata: x\n: mid\n\n") == ["x"]


def test_event_id_and_retry_fields() -> None:
    events = decode(b"event: error\nid: 7\nretry: 1500\ndata: boom\n\ndata: next\n\n")
    assert events[0] == ServerSentEvent(event="error", data="boom", id="7", retry=1500)
    # The event type resets after dispatch; the last event id persists.
    assert events[1].event == "message"
    assert events[1].id == "7"


def test_retry_must_be_ascii_digits_and_id_without_nul() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"retry: 12a\nretry: \xd9\xa3\nid: a\x00b\ndata: x\n\n")
    assert decoder.retry is None
    assert decoder.last_event_id == ""


def test_leading_bom_is_stripped_once() -> None:
    assert datas(b"\xef\xbb\xbfdata: a\n\n") == ["a"]
    # A BOM split across chunks is still a BOM.
    assert datas(b"\xef", b"\xbb\xbfdata: a\n\n") == ["a"]
    # Only the first: a later BOM is part of the field name, so the line is ignored.
    assert datas(b"\xef\xbb\xbf\xef\xbb\xbfdata: a\n\n") == []


def test_utf8_split_across_chunks() -> None:
    body = "data: héllo 世界 🎉\n\n".encode()
    for cut in range(1, len(body)):
        assert datas(body[:cut], body[cut:]) == ["héllo 世界 🎉"], cut


def test_invalid_utf8_is_replaced_not_fatal() -> None:
    assert datas(b"data: a\xffb\n\n") == ["a\ufffdb"]


def test_event_without_data_is_not_dispatched() -> None:
    assert decode(b"event: ping\n\nid: 3\n\n") == []


def test_unfinished_event_at_end_of_stream_is_discarded() -> None:
    assert datas(b"data: complete\n\ndata: partial\n") == ["complete"]
    assert datas(b"data: complete\n\ndata: no line end") == ["complete"]


def test_field_without_colon_and_unknown_fields() -> None:
    assert datas(b"data\n\nfoo: bar\ndata: x\n\n") == ["", "x"]


def test_events_are_returned_as_soon_as_their_blank_line_arrives() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\n") == []
    assert [e.data for e in decoder.feed(b"\n")] == ["a"]
    # A CR is acted on at once: no waiting to see whether an LF follows.
    assert [e.data for e in decoder.feed(b"data: b\r\r")] == ["b"]


def test_llama_server_capture_decodes() -> None:
    raw = (FIXTURES / "sse" / "llama_server_stream_include_usage.txt").read_bytes()
    events = decode(raw)
    assert events[-1].data == "[DONE]"
    assert len(events) > 3


_fields = st.sampled_from(
    [b"data: ", b"data:", b"data", b"event: ", b"id: ", b"retry: ", b": ", b"x: "]
)
_values = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=12
).map(lambda s: s.encode())
_ends = st.sampled_from([b"\n", b"\r", b"\r\n"])
_lines = st.builds(lambda f, v, e: f + v + e, _fields, _values, _ends)
_blank = _ends
_streams = st.builds(
    lambda bom, parts: (b"\xef\xbb\xbf" if bom else b"") + b"".join(parts),
    st.booleans(),
    st.lists(st.one_of(_lines, _blank), max_size=30),
)


@given(stream=_streams, data=st.data())
def test_any_split_yields_the_same_events_as_the_whole(stream: bytes, data: st.DataObject) -> None:
    cuts = sorted(data.draw(st.sets(st.integers(0, len(stream)), max_size=10)))
    pieces = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    assert decode(*pieces) == decode(stream)


@given(stream=st.binary(max_size=200), data=st.data())
def test_arbitrary_bytes_split_anywhere_never_crash_and_agree(
    stream: bytes, data: st.DataObject
) -> None:
    cuts = sorted(data.draw(st.sets(st.integers(0, len(stream)), max_size=8)))
    pieces = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    assert decode(*pieces) == decode(stream)


@given(stream=_streams)
def test_byte_at_a_time_matches_whole(stream: bytes) -> None:
    assert decode(*(stream[i : i + 1] for i in range(len(stream)))) == decode(stream)
