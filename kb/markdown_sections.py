"""An article's Markdown, cut into blocks: the HTML the help center shows and the passages the
assistant quotes come from the same cut, so every passage has an anchor in the page.

- a heading starts a new part (its text becomes the heading of the passages under it);
- a paragraph is one passage, its hard line breaks rejoined;
- each list item is one passage (a FAQ entry, a step);
- a paragraph cut in the middle of a sentence (no final punctuation, the next one starting with a
  lower-case letter or a digit: "apparaissent\\n\\ntoujours") is joined back to the next one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import markdown as md
from django.utils.html import escape
from django.utils.text import slugify

from lumiodesk.html_sanitizer import html_to_text, sanitize_html

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_ITEM = re.compile(r"^\s{0,3}(?:([-*+])|(\d{1,4})[.)])\s+(.*)$")
_FENCE = re.compile(r"^\s{0,3}(```|~~~)")
_SECTION_NUMBER = re.compile(r"^\d+(?:\.\d+)*\.?\s+")
_SENTENCE_END = re.compile(r"""[.!?:;…»)"'`*]\s*$""")
_CONTINUES = re.compile(r"^[a-zà-ÿ0-9]")
_QUESTION_ONLY = re.compile(r"^[^.!]*\?$", re.S)


@dataclass
class Block:
    kind: str  # heading, paragraph, item, code
    text: str  # Markdown source of the block (lines rejoined)
    level: int = 0  # heading level
    ordered: bool = False  # list item: numbered?
    number: int | None = None  # list item: its number
    heading: str = ""  # the heading the block sits under
    anchor: str = ""
    position: int = 0  # passages only: 1, 2, 3...


@dataclass
class Rendered:
    html: str
    text: str
    passages: list[PassageData] = field(default_factory=list)


@dataclass
class PassageData:
    position: int
    anchor: str
    heading: str
    text: str
    is_question: bool


def rejoin(source: str) -> str:
    """The source with the paragraphs cut mid-sentence joined back (used by imports)."""
    paragraphs = re.split(r"\n[ \t]*\n", (source or "").replace("\r\n", "\n").strip())
    out: list[str] = []
    for para in paragraphs:
        if not para.strip():
            continue
        if out and _is_cut(out[-1], para):
            out[-1] = out[-1].rstrip() + " " + para.lstrip()
        else:
            out.append(para)
    return "\n\n".join(out)


def _is_cut(previous: str, nxt: str) -> bool:
    last_line = previous.rstrip().splitlines()[-1] if previous.strip() else ""
    first = nxt.lstrip()
    return bool(
        last_line
        and not _HEADING.match(last_line)
        and not _SENTENCE_END.search(last_line)
        and _CONTINUES.match(first)
        and not _ITEM.match(first)
        and not _HEADING.match(first)
    )


def parse_blocks(source: str) -> list[Block]:
    lines = (source or "").replace("\r\n", "\n").split("\n")
    blocks: list[Block] = []
    current: list[str] = []
    kind = ""
    item: Block | None = None
    in_fence = False
    fence: list[str] = []

    def flush() -> None:
        nonlocal current, kind, item
        if kind == "paragraph" and current:
            text = " ".join(s.strip() for s in current)
            prev = blocks[-1] if blocks else None
            if prev is not None and prev.kind == "paragraph" and _is_cut(prev.text, text):
                prev.text = prev.text.rstrip() + " " + text
            else:
                blocks.append(Block("paragraph", text))
        elif kind == "item" and item is not None:
            item.text = " ".join(s.strip() for s in current)
            blocks.append(item)
        current, kind, item = [], "", None

    for line in lines:
        if in_fence:
            if _FENCE.match(line):
                blocks.append(Block("code", "\n".join(fence)))
                in_fence, fence = False, []
            else:
                fence.append(line)
            continue
        if _FENCE.match(line):
            flush()
            in_fence = True
            continue
        if not line.strip():
            flush()
            continue
        heading = _HEADING.match(line)
        if heading:
            flush()
            blocks.append(Block("heading", heading.group(2).strip(), level=len(heading.group(1))))
            continue
        bullet = _ITEM.match(line)
        if bullet:
            flush()
            kind = "item"
            item = Block(
                "item", "", ordered=bullet.group(2) is not None,
                number=int(bullet.group(2)) if bullet.group(2) else None,
            )
            current = [bullet.group(3)]
            continue
        if kind in ("paragraph", "item"):
            current.append(line)
        else:
            kind = "paragraph"
            current = [line]
    flush()
    if in_fence and fence:
        blocks.append(Block("code", "\n".join(fence)))
    return blocks


def _inline_html(text: str) -> str:
    html = md.markdown(text, output_format="html")
    html = re.sub(r"^<p>(.*)</p>$", r"\1", html.strip(), flags=re.S)
    return sanitize_html(html)


def render(source: str, *, title: str = "") -> Rendered:
    """HTML with an id on every heading and passage, the plain text, and the passages."""
    blocks = parse_blocks(source)
    html: list[str] = []
    texts: list[str] = []
    passages: list[PassageData] = []
    heading = title
    used: set[str] = set()
    open_list: str = ""
    position = 0
    for block in blocks:
        if block.kind != "item" and open_list:
            html.append(f"</{open_list}>")
            open_list = ""
        if block.kind == "heading":
            heading_text = html_to_text(_inline_html(block.text))
            heading = _SECTION_NUMBER.sub("", heading_text) or heading_text
            anchor = _unique(slugify(heading)[:50] or "section", used)
            level = min(max(block.level, 2), 4)
            html.append(f'<h{level} id="{anchor}">{_inline_html(block.text)}</h{level}>')
            texts.append(heading_text)
            continue
        if block.kind == "code":
            html.append(f"<pre><code>{escape(block.text)}</code></pre>")
            texts.append(block.text)
            continue
        position += 1
        anchor = f"p-{position}"
        inner = _inline_html(block.text)
        text = html_to_text(inner).replace("\n", " ").strip()
        if block.kind == "item":
            tag = "ol" if block.ordered else "ul"
            if open_list != tag:
                if open_list:
                    html.append(f"</{open_list}>")
                html.append(f'<{tag} class="kb-list">')
                open_list = tag
            value = f' value="{block.number}"' if block.number is not None else ""
            html.append(f'<li id="{anchor}"{value}>{inner}</li>')
            label = f"{block.number}. " if block.number is not None else ""
            texts.append(label + text)
        else:
            html.append(f'<p id="{anchor}">{inner}</p>')
            texts.append(text)
        if text:
            passages.append(PassageData(position, anchor, heading[:200], text, bool(_QUESTION_ONLY.match(text))))
    if open_list:
        html.append(f"</{open_list}>")
    return Rendered("\n".join(html), "\n\n".join(texts), passages)


def _unique(anchor: str, used: set[str]) -> str:
    candidate, n = anchor, 2
    while candidate in used or candidate.startswith("p-"):
        candidate = f"{anchor}-{n}"
        n += 1
    used.add(candidate)
    return candidate


def excerpt(text: str, length: int = 180) -> str:
    text = " ".join((text or "").split())
    if len(text) <= length:
        return text
    cut = text[:length].rsplit(" ", 1)[0]
    return cut + "…"
