"""The incrementally streamed document matches a one-shot render block for block."""

from __future__ import annotations

import time

from PySide6.QtGui import QTextDocument

from llms_desktop.markdown_render import MarkdownRenderer
from llms_desktop.types import Message
from llms_desktop.ui.chat_document import ChatDocument
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
