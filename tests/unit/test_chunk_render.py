"""Rendering an answer chunk by chunk: code highlighted in groups as if highlighted whole."""

from __future__ import annotations

import re

import pytest

from llms_desktop.chunk_render import AnswerRender, column_widths
from llms_desktop.markdown_render import MarkdownRenderer
from llms_desktop.markdown_stream import MarkdownStream

PRE = re.compile(r"<pre [^>]*>\n(.*?)\n</pre>", re.DOTALL)


def python_code(count: int) -> str:
    return "".join(
        f'def f{n}(x):\n    """Doc\n    string {n}.\n    """\n    return x  # {n}\n\n'
        for n in range(count)
    )


def block_comments(count: int, *, comment: str, line: str) -> str:
    out = []
    for n in range(count):
        if n % 23 == 9:
            out.append("/* A comment\n" + "   that goes on\n" * (n % 7 + 3) + "*/\n")
        out.append(line.format(n=n))
    return "".join(out)


def streamed_code_lines(markdown: str, renderer: MarkdownRenderer, cuts: int) -> list[str]:
    """The HTML lines of the code block, as streaming in `cuts`-character deltas renders it."""
    stream = MarkdownStream()
    codes: dict[str, str] = {}
    render = AnswerRender(renderer, link_prefix="copy:", codes=codes)
    units = []
    for start in range(0, len(markdown), cuts):
        units.extend(render.unit(chunk) for chunk in stream.feed(markdown[start : start + cuts]))
    units.extend(render.unit(chunk) for chunk in stream.finish())
    assert len(units) >= 4  # the fence really was committed in groups
    lines: list[str] = []
    for unit in units:
        for body in PRE.findall(unit):
            lines.extend(body.split("\n"))
    return lines[1:]  # the label and Copy line


@pytest.mark.parametrize(
    ("language", "code"),
    [
        ("python", python_code(40)),
        ("js", block_comments(120, comment="/*", line="var a{n} = 'x{n}';\n")),
        ("c", block_comments(120, comment="/*", line="int a{n} = {n};\n")),
        ("java", block_comments(120, comment="/*", line="int a{n} = {n}; // x\n")),
        ("rust", block_comments(80, comment="/*", line='let s{n} = "{n}";\n')),
    ],
)
@pytest.mark.parametrize("cuts", [1, 17, 4096])
def test_code_in_groups_highlights_exactly_as_the_whole(
    language: str, code: str, cuts: int
) -> None:
    renderer = MarkdownRenderer()
    expected, _ = renderer.highlighter.lines(renderer.highlighter.start(language), code)
    assert streamed_code_lines(f"```{language}\n{code}```\n", renderer, cuts) == expected
    assert any("font-style:italic" in line for line in expected)  # comments/docstrings styled


def test_a_comment_longer_than_the_lookahead_still_renders_the_same_every_time() -> None:
    # Beyond the lookahead the grouped highlighting may differ from the whole, but it is a
    # function of the text alone: a thread opened later shows what streamed.
    code = "var a = 1;\n/*\n" + "comment\n" * 60 + "*/\nvar b = 2;\n"
    renderer = MarkdownRenderer()
    one = streamed_code_lines(f"```js\n{code}```\n", renderer, 5)
    two = streamed_code_lines(f"```js\n{code}```\n", renderer, 999)
    assert one == two
    assert len(one) == code.count("\n")


def test_copy_registers_the_whole_fence_and_unknown_languages_are_plain() -> None:
    code = "".join(f"<line {n}> & more\n" for n in range(50))
    stream = MarkdownStream()
    codes: dict[str, str] = {}
    render = AnswerRender(MarkdownRenderer(), link_prefix="copy:m:", codes=codes)
    units = [render.unit(chunk) for chunk in stream.feed(f"```nosuchlang\n{code}```\n")]
    assert "&lt;line 0&gt; &amp; more" in units[0]
    assert codes == {"copy:m:0": code}


def test_column_widths_follow_the_header_and_rows() -> None:
    widths = column_widths("| a | long header |\n|---|---|\n| x | y |\n| wider cell | z |\n")
    assert len(widths) == 2
    assert sum(widths) <= 100
    assert widths[1] > widths[0] / 2


def test_a_single_newline_is_a_line_break_as_in_chat_apps() -> None:
    from llms_desktop.markdown_render import MarkdownRenderer

    rendered = (
        MarkdownRenderer().render("Crisp leaves drift and fall,\nthe maple lets go of red").html
    )
    assert "<br" in rendered
    assert "fall,<br" in rendered.replace("\n", "")
