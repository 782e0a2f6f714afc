"""The incrementally streamed document matches a one-shot render block for block."""

from __future__ import annotations

import random
import time

import pytest
from PySide6.QtGui import QTextDocument

from llms_desktop.markdown_render import MarkdownRenderer
from llms_desktop.types import Message
from llms_desktop.ui.chat_document import CURSOR_GLYPH, ChatDocument
from llms_desktop.ui.message_html import MessageHtml
from llms_desktop.ui.theme import LIGHT_CHAT

ANSWER = """# Heading one

Some *prose* with `code` and a [link](https://example.com).

## A list

- first item
- second item with **bold**

1. one
2. two

   ```python
   def indented():

       return 1
   ```

3. three

```python
def f(x):

    return x * 2
```

| col a | col b |
|:------|------:|
| 1     | 2     |

> a quote
> on two lines

### Last heading
Final paragraph without a trailing newline"""


def dump(document: QTextDocument) -> list[tuple[object, ...]]:
    rows = []
    block = document.begin()
    while block.isValid():
        fmt = block.blockFormat()
        text_list = block.textList()
        rows.append(
            (
                block.text(),
                fmt.headingLevel(),
                fmt.nonBreakableLines(),
                text_list.format().style() if text_list else None,
                text_list.itemNumber(block) if text_list else None,
                round(fmt.topMargin()),
                round(fmt.bottomMargin()),
                round(fmt.leftMargin()),
                block.charFormat().fontWeight(),
                fmt.background().color().name() if fmt.background().style() else None,
            )
        )
        block = block.next()
    return rows


def make_doc() -> ChatDocument:
    return ChatDocument(QTextDocument(), MessageHtml(MarkdownRenderer(), LIGHT_CHAT))


def message(content: str, **fields: object) -> Message:
    defaults: dict[str, object] = dict(
        id="a1",
        thread_id="t",
        role="assistant",
        content=content,
        status="complete",
        model="m",
        created_at=time.time(),
        completion_tokens=12,
        duration_ms=900.0,
        ttft_ms=100.0,
    )
    defaults.update(fields)
    return Message(**defaults)  # type: ignore[arg-type]


def test_streamed_document_equals_one_shot_render(qapp: object) -> None:
    user = Message(id="u1", thread_id="t", role="user", content="Explain", created_at=time.time())
    final = message(ANSWER)
    streamed = make_doc()
    streamed.show([user])
    streamed.begin_live(message("", status="streaming"))
    # Word-sized deltas, flushed every few deltas like frames would.
    words = ANSWER.split(" ")
    for n, word in enumerate(words):
        streamed.add_text(word if n == 0 else " " + word)
        if n % 3 == 0:
            streamed.flush()
    streamed.end_live(final)

    one_shot = make_doc()
    one_shot.show([user, final])
    assert dump(streamed.document) == dump(one_shot.document)
    text = streamed.document.toPlainText()
    assert "Final paragraph without a trailing newline" in text
    assert "def f(x):" in text


def test_reasoning_then_answer_matches_one_shot(qapp: object) -> None:
    final = message("The answer.\n\nSecond paragraph.", reasoning="Let me think about it.")
    streamed = make_doc()
    streamed.begin_live(message("", status="streaming"))
    streamed.add_reasoning("Let me think ")
    streamed.flush()
    assert "Thinking" in streamed.document.toPlainText()
    streamed.add_reasoning("about it.")
    streamed.flush()
    streamed.add_text("The answer.\n\nSecond")
    streamed.flush()
    streamed.add_text(" paragraph.")
    streamed.end_live(final)
    one_shot = make_doc()
    one_shot.show([final])
    assert dump(streamed.document) == dump(one_shot.document)
    assert "Reasoning (5 words)" in one_shot.document.toPlainText()


def test_tail_is_rerendered_but_finished_chunks_are_not(qapp: object) -> None:
    doc = make_doc()
    doc.begin_live(message("", status="streaming"))
    doc.add_text("# Title\n\nfirst paragraph\n\nsecond")
    doc.flush()
    blocks_before = doc.document.blockCount()
    first_block = doc.document.findBlockByNumber(1)
    doc.add_text(" grows")
    doc.flush()
    # The committed title block is the very same block object position and text.
    assert doc.document.findBlockByNumber(1).text() == first_block.text()
    assert doc.document.blockCount() == blocks_before
    assert "second grows" in doc.document.toPlainText()


def test_code_blocks_register_copy_links(qapp: object) -> None:
    doc = make_doc()
    doc.show([message("```sh\nls -la\n```\n\nand\n\n```\npwd\n```")])
    assert doc.builder.codes == {"copy:a1:0": "ls -la\n", "copy:a1:1": "pwd\n"}


def test_raw_html_and_images_are_not_interpreted(qapp: object) -> None:
    doc = make_doc()
    doc.show([message("<script>alert(1)</script> ![cat](http://example.com/cat.png)")])
    html = doc.document.toHtml()
    assert "<img" not in html
    assert "http://example.com/cat.png" in html
    assert "<script>" in doc.document.toPlainText()


def test_reference_style_links_resolve_across_chunks(qapp: object) -> None:
    content = (
        'See [the docs][1] for more.\n\nAnother paragraph.\n\n[1]: https://example.com/docs "Docs"'
    )
    one_shot = make_doc()
    one_shot.show([message(content)])
    assert 'href="https://example.com/docs"' in one_shot.document.toHtml()
    assert "[the docs][1]" not in one_shot.document.toPlainText()
    assert "[1]:" not in one_shot.document.toPlainText()
    streamed = make_doc()
    streamed.begin_live(message("", status="streaming"))
    for word in content.split(" "):
        streamed.add_text(word + " ")
        streamed.flush()
    streamed.end_live(message(content))
    assert 'href="https://example.com/docs"' in streamed.document.toHtml()
    assert dump(streamed.document) == dump(one_shot.document)


def code_lines(count: int) -> str:
    """Python with docstrings and comments that run across group boundaries."""
    out = []
    for n in range(count // 6):
        out.append(f'def f{n}(x):\n    """Doc\n    string {n}.\n    """\n    return x  # {n}\n\n')
    return "".join(out)


BIG = (
    "Here is the code:\n\n```python\n"
    + code_lines(240)
    + "```\n\nAnd a table:\n\n| name | value | note |\n|:-----|------:|------|\n"
    + "".join(f"| row {n} | {n * 7} | *note* {n} |\n" for n in range(70))
    + "\nA list:\n\n"
    + "".join(f"- item **{n}** with text\n" for n in range(60))
    + "\nThen numbers:\n\n"
    + "".join(f"{n + 3}. step {n}\n" for n in range(45))
    + "\n```\nunterminated "
    + "x" * 9000
    + "\ncode"
)


def fragments(document: QTextDocument) -> list[tuple[object, ...]]:
    """Every run of text with its colour and weight: highlighting included."""
    rows = []
    block = document.begin()
    while block.isValid():
        it = block.begin()
        while not it.atEnd():
            fragment = it.fragment()
            fmt = fragment.charFormat()
            rows.append(
                (
                    fragment.text(),
                    fmt.foreground().color().name(),
                    fmt.fontWeight(),
                    fmt.fontItalic(),
                    fmt.anchorHref(),
                )
            )
            it += 1
        block = block.next()
    return rows


def stream_randomly(content: str, seed: int) -> ChatDocument:
    rnd = random.Random(seed)
    doc = make_doc()
    doc.begin_live(message("", status="streaming"))
    position = 0
    while position < len(content):
        size = rnd.choice([1, 2, 3, 7, 20, 80, 500, 4096])
        doc.add_text(content[position : position + size])
        position += size
        if rnd.random() < 0.3:
            doc.flush()
    doc.end_live(message(content))
    while doc.backlog:
        doc.flush()
    return doc


def stream_by_lines(content: str, lines_per_flush: int) -> ChatDocument:
    doc = make_doc()
    doc.begin_live(message("", status="streaming"))
    for number, line in enumerate(content.splitlines(keepends=True)):
        doc.add_text(line)
        if number % lines_per_flush == 0:
            doc.flush()
    doc.end_live(message(content))
    return doc


@pytest.mark.parametrize("seed", [1, 2, 3, -1, -3, -5])
def test_long_fences_tables_and_lists_streamed_at_random_splits_equal_one_shot(
    qapp: object, seed: int
) -> None:
    one_shot = make_doc()
    one_shot.show([message(BIG)])
    # Negative seeds: whole lines at a time, so the tail often ends at a line end.
    streamed = stream_randomly(BIG, seed) if seed > 0 else stream_by_lines(BIG, -seed)
    assert dump(streamed.document) == dump(one_shot.document)
    assert fragments(streamed.document) == fragments(one_shot.document)
    assert streamed.builder.codes == one_shot.builder.codes


def test_a_long_fence_is_one_block_and_copies_whole(qapp: object) -> None:
    code = code_lines(200)
    doc = make_doc()
    doc.show([message(f"```python\n{code}```\n")])
    assert doc.builder.codes == {"copy:a1:0": code}
    background = doc.builder.renderer.palette.background
    blocks = []
    block = doc.document.begin()
    while block.isValid():
        blocks.append(block)
        block = block.next()
    label = next(n for n, b in enumerate(blocks) if b.text().startswith("python"))
    end = max(n for n, b in enumerate(blocks) if b.blockFormat().nonBreakableLines())
    fence = blocks[label : end + 1]
    assert len([b for b in fence if b.blockFormat().nonBreakableLines()]) == code.count("\n") + 1
    for n, b in enumerate(fence):
        fmt = b.blockFormat()
        assert fmt.background().color().name() == background, (n, b.text())
        assert round(fmt.topMargin()) == (6 if n == 0 else 0)
        assert round(fmt.bottomMargin()) == (6 if n == len(fence) - 1 else 0)


def test_a_huge_line_is_shown_in_pieces_and_copied_exactly(qapp: object) -> None:
    line = "".join(f"w{n} " for n in range(30_000))  # ~200k characters, one line
    content = f"Intro\n\n{line}\n\n```\n{'y' * 50_000}\n```\n"
    doc = stream_randomly(content, 3)
    assert doc.messages[-1].content == content
    longest = 0
    block = doc.document.begin()
    while block.isValid():
        longest = max(longest, block.length())
        block = block.next()
    assert longest <= 1_001
    assert doc.builder.codes["copy:a1:0"] == "y" * 50_000 + "\n"
    plain = doc.document.toPlainText()
    assert plain.replace("Copy", "").count("y") == 50_000
    one_shot = make_doc()
    one_shot.show([message(content)])
    assert dump(doc.document) == dump(one_shot.document)


def shown_text(document: QTextDocument) -> list[str]:
    """The non-empty lines on screen, spacers and the typing cursor left out."""
    text = document.toPlainText().replace(CURSOR_GLYPH, "").replace("\u200b", "")
    return [line for line in text.split("\n") if line.strip()]


def test_every_frame_shows_what_a_one_shot_render_of_the_text_so_far_shows(qapp: object) -> None:
    rnd = random.Random(5)
    content = BIG[:30_000]
    doc = make_doc()
    doc.begin_live(message("", status="streaming", completion_tokens=None))
    position = checks = 0
    while position < len(content):
        size = rnd.choice([1, 5, 40, 300])
        doc.add_text(content[position : position + size])
        position += size
        if rnd.random() < 0.15:
            doc.flush(budget=None)
            so_far = make_doc()
            so_far.show([message(content[:position], status="streaming")])
            assert shown_text(doc.document) == shown_text(so_far.document), position
            checks += 1
    assert checks > 20
