"""Splitting streamed markdown into finished chunks: lossless, and independent of the splits."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from llms_desktop.markdown_stream import Chunk, Limits, MarkdownStream

SMALL = Limits(code_group=2, code_lookahead=2, table_group=2, list_group=2, long_line=40, piece=10)
# A lookahead longer than a group: several groups wait for theirs at once.
UNEVEN = Limits(code_group=2, code_lookahead=5, table_group=3, list_group=1, long_line=30, piece=7)


def chunks_of(*pieces: str, limits: Limits | None = None) -> list[Chunk]:
    stream = MarkdownStream(limits)
    chunks: list[Chunk] = []
    for piece in pieces:
        chunks.extend(stream.feed(piece))
    return chunks + stream.finish()


def texts(chunks: list[Chunk]) -> list[str]:
    return [chunk.text for chunk in chunks]


def test_paragraphs_finish_at_blank_lines() -> None:
    stream = MarkdownStream()
    assert texts(stream.feed("One.\n\nTwo.\n\nThr")) == ["One.\n\n", "Two.\n\n"]
    assert stream.tail == "Thr"
    assert texts(stream.finish()) == ["Thr"]


def test_a_chunk_waits_for_the_next_line_to_start_in_column_zero() -> None:
    stream = MarkdownStream()
    assert stream.feed("- item\n\n") == []
    # An indented line continues the list item: no boundary.
    assert stream.feed("  more of the item\n\n") == []
    assert texts(stream.feed("After")) == ["- item\n\n  more of the item\n\n"]


def test_a_top_level_fence_is_its_own_chunk_blank_lines_included() -> None:
    text = "Intro\n```python\ndef f():\n\n    return 1\n```\nNext"
    chunks = chunks_of(text)
    assert texts(chunks) == ["Intro\n", "```python\ndef f():\n\n    return 1\n```\n", "Next"]
    code = chunks[1]
    assert (code.kind, code.info, code.first, code.last) == ("code", "python", True, True)
    assert code.code == "def f():\n\n    return 1\n"


def test_fence_closers_must_match_the_opener() -> None:
    chunks = chunks_of("````\n```\n\nstill code\n    ````\n````\n\nout")
    assert chunks[0].code == "```\n\nstill code\n    ````\n"  # indented 4: not a closer
    assert texts(chunks)[1:] == ["\nout"]


def test_indented_fence_in_a_list_item_keeps_its_blank_lines() -> None:
    text = "1. Step\n\n   ```sh\n   ls\n\n   pwd\n   ```\n\n2. Next\n"
    chunks = chunks_of(text)
    assert "".join(texts(chunks)) == text
    assert chunks[0] == Chunk("1. Step\n\n   ```sh\n   ls\n\n   pwd\n   ```\n\n")


def test_groups_wait_for_a_lookahead_longer_than_themselves() -> None:
    lines = "".join(f"{n}\n" for n in range(9))
    stream = MarkdownStream(UNEVEN)
    done = stream.feed("```\n" + lines)
    # Groups of 2 lines, committed once 5 more lines than the group have arrived.
    assert [chunk.code for chunk in done] == ["0\n1\n"]
    assert done[0].lookahead == "2\n3\n4\n5\n6\n"
    rest = stream.feed("```\n") + stream.finish()
    assert [chunk.code for chunk in rest] == ["2\n3\n", "4\n5\n", "6\n7\n", "8\n"]
    assert [chunk.last for chunk in rest] == [False, False, False, True]
    assert rest[0].lookahead == "4\n5\n6\n7\n8\n"
    assert rest[-1].text == "8\n```\n"


def test_a_long_fence_is_committed_in_groups_with_the_next_group_as_lookahead() -> None:
    lines = [f"line {n}\n" for n in range(7)]
    stream = MarkdownStream(SMALL)
    done = stream.feed("```js\n" + "".join(lines[:5]))
    # Two lines pending must wait for the two after them (their lookahead).
    assert [chunk.code for chunk in done] == ["line 0\nline 1\n"]
    assert done[0].lookahead == "line 2\nline 3\n"
    assert (done[0].first, done[0].last, done[0].text) == (True, False, "```js\nline 0\nline 1\n")
    tail = stream.tail_chunk()
    assert tail is not None
    assert tail.code == "line 2\nline 3\nline 4\n"
    assert not tail.first
    done += stream.feed("".join(lines[5:]) + "```\nafter")
    done += stream.finish()
    codes = [chunk for chunk in done if chunk.kind == "code"]
    assert "".join(chunk.code for chunk in codes) == "".join(lines)
    assert [chunk.last for chunk in codes] == [False, False, False, True]
    assert all(not chunk.first for chunk in codes[1:])
    assert done[-1] == Chunk("after")


def test_a_long_table_is_committed_in_groups_that_carry_its_header() -> None:
    head = "| a | b |\n|---|--:|\n"
    rows = [f"| {n} | {n * 2} |\n" for n in range(5)]
    chunks = chunks_of(head + "".join(rows) + "\nafter\n", limits=SMALL)
    assert texts(chunks) == [head + rows[0] + rows[1], rows[2] + rows[3], rows[4] + "\n", "after\n"]
    assert [(c.first, c.last, c.block) for c in chunks[:3]] == [
        (True, False, "table"),
        (False, False, "table"),
        (False, True, "table"),
    ]
    assert chunks[1].head == head
    assert chunks[0].head == ""


def test_a_short_table_or_a_table_with_a_row_without_pipes_stays_whole() -> None:
    assert texts(chunks_of("| a |\n|---|\n| 1 |\n", limits=SMALL)) == ["| a |\n|---|\n| 1 |\n"]
    text = "| a |\n|---|\n| 1 |\n2 |\n| 3 |\n| 4 |\n| 5 |\n"
    assert texts(chunks_of(text, limits=SMALL)) == [text]


def test_a_long_ordered_list_is_committed_in_groups_that_keep_their_numbers() -> None:
    items = [f"{n}. item\n" for n in (7, 7, 7, 7, 7)]  # numbered by the first item only
    chunks = chunks_of("".join(items), limits=SMALL)
    assert texts(chunks) == [items[0] * 2, items[0] * 2, items[0]]
    assert [chunk.start for chunk in chunks] == [None, 9, 11]
    assert [(chunk.first, chunk.last) for chunk in chunks] == [
        (True, False),
        (False, False),
        (False, True),
    ]


def test_a_loose_or_mixed_list_is_not_split() -> None:
    loose = "- a\n- b\n\n  more of b\n- c\n- d\n- e\n"
    assert texts(chunks_of(loose, limits=SMALL)) == ["- a\n- b\n\n  more of b\n- c\n- d\n- e\n"]
    mixed = "- a\n+ b\n- c\n- d\n- e\n"
    assert texts(chunks_of(mixed, limits=SMALL)) == [mixed]


def test_a_long_line_is_cut_into_plain_pieces_at_spaces() -> None:
    line = "word " * 12  # 60 characters
    chunks = chunks_of("Intro\n" + line + "\nafter\n", limits=SMALL)
    pieces = [chunk for chunk in chunks if chunk.kind == "long"]
    assert "".join(texts(chunks)) == "Intro\n" + line + "\nafter\n"
    assert all(len(chunk.text.rstrip("\n")) <= 10 for chunk in pieces)
    assert all(chunk.text.endswith(" ") for chunk in pieces[:-1])
    assert pieces[0].first
    assert pieces[-1].last
    assert not pieces[1].first
    assert texts(chunks)[0] == "Intro\n"
    assert texts(chunks)[-1] == "after\n"


def test_a_long_line_in_a_fence_is_plain_code_and_the_fence_goes_on() -> None:
    chunks = chunks_of("```\nshort\n" + "x" * 45 + "\nend\n```\n", limits=SMALL)
    assert all(chunk.kind == "code" for chunk in chunks)
    plain = [chunk.code for chunk in chunks if chunk.plain]
    assert plain == ["x" * 10] * 4 + ["x" * 5 + "\n"]
    assert "".join(chunk.code for chunk in chunks) == "short\n" + "x" * 45 + "\nend\n"
    assert chunks[-1].last
    assert chunks[-1].code == "end\n"


def test_a_long_line_streamed_keeps_the_tail_small() -> None:
    stream = MarkdownStream()
    done: list[Chunk] = []
    for _ in range(250):
        done += stream.feed("y" * 4096)
        assert len(stream.tail) <= 1_000
    assert sum(len(chunk.text) for chunk in done) + len(stream.tail) == 250 * 4096


_alphabet = st.sampled_from(
    [
        "a",
        " ",
        "\n",
        "\n\n",
        "-",
        "```",
        "~~~",
        "```py\n",
        "1.",
        "  ",
        "#",
        "|",
        "| x | y |\n",
        "|---|---|\n",
        "- a\n",
        "3. b\n",
        "x" * 25,
        "word ",
    ]
)
_texts = st.lists(_alphabet, max_size=80).map("".join)


@settings(max_examples=300)
@given(text=_texts, data=st.data(), limits=st.sampled_from([None, SMALL, UNEVEN]))
def test_any_split_gives_the_same_chunks_and_loses_nothing(
    text: str, data: st.DataObject, limits: Limits | None
) -> None:
    cuts = sorted(data.draw(st.sets(st.integers(0, len(text)), max_size=12)))
    pieces = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
    whole = chunks_of(text, limits=limits)
    split = chunks_of(*pieces, limits=limits)
    assert split == whole
    assert "".join(texts(whole)) == text
