"""Splitting streamed markdown into finished chunks: lossless, and independent of the splits."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from llms_desktop.markdown_stream import MarkdownStream


def chunks_of(*pieces: str) -> tuple[list[str], str]:
    stream = MarkdownStream()
    chunks: list[str] = []
    for piece in pieces:
        chunks.extend(stream.feed(piece))
    return chunks, stream.finish()


def test_paragraphs_finish_at_blank_lines() -> None:
    chunks, rest = chunks_of("One.\n\nTwo.\n\nThr")
    assert chunks == ["One.\n\n", "Two.\n\n"]
    assert rest == "Thr"


def test_a_chunk_waits_for_the_next_line_to_start_in_column_zero() -> None:
    stream = MarkdownStream()
    assert stream.feed("- item\n\n") == []
    # An indented line continues the list item: no boundary.
    assert stream.feed("  more of the item\n\n") == []
    assert stream.feed("After") == ["- item\n\n  more of the item\n\n"]


def test_blank_lines_inside_a_fence_do_not_split() -> None:
    text = "```python\ndef f():\n\n    return 1\n```\n\nNext"
    chunks, rest = chunks_of(text)
    assert chunks == ["```python\ndef f():\n\n    return 1\n```\n\n"]
    assert rest == "Next"


def test_fence_closers_must_match_the_opener() -> None:
    text = "````\n```\n\nstill code\n````\n\nout"
    chunks, rest = chunks_of(text)
    assert chunks == ["````\n```\n\nstill code\n````\n\n"]
    assert rest == "out"


def test_indented_fence_in_a_list_item_keeps_its_blank_lines() -> None:
    text = "1. Step\n\n   ```sh\n   ls\n\n   pwd\n   ```\n\n2. Next\n"
    chunks, rest = chunks_of(text)
    assert "".join(chunks) + rest == text
    assert chunks == ["1. Step\n\n   ```sh\n   ls\n\n   pwd\n   ```\n\n"]


_alphabet = st.sampled_from(["a", " ", "\n", "\n\n", "-", "```", "~~~", "1.", "  ", "#", "|"])
_texts = st.lists(_alphabet, max_size=60).map("".join)


@given(text=_texts, data=st.data())
def test_any_split_gives_the_same_chunks_and_loses_nothing(text: str, data: st.DataObject) -> None:
    cuts = sorted(data.draw(st.sets(st.integers(0, len(text)), max_size=12)))
    pieces = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
    whole = chunks_of(text)
    split = chunks_of(*pieces)
    assert split == whole
    assert "".join(split[0]) + split[1] == text
