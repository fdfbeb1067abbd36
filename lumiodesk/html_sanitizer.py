"""Message and article bodies: sanitized HTML (nh3) and plain text. In the core: tickets (messages) and the
knowledge base (articles) both use it."""

from __future__ import annotations

import html
import re

import nh3
from django.utils.html import linebreaks

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "div", "em", "h1", "h2", "h3", "h4", "hr", "i",
    "img", "li", "ol", "p", "pre", "s", "span", "strong", "sub", "sup", "table", "tbody", "td",
    "th", "thead", "tr", "u", "ul",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
}


# html5ever (inside nh3) walks the stack of open elements for each block it opens: nested blocks cost the
# square of their depth (40,000 nested <div> took 22 s). Markup nested deeper than any mail client writes is
# shown as its text. Counted in one pass; void elements and those whose end tag may be left out (p, li, td…)
# do not nest.
MAX_DEPTH = 100
# A tag's name as the HTML tokenizer reads it: up to a space, "/" or ">" ("<br<p>" opens an element named
# "br<p", which nests: found by the property test, 1 MB of "<p> </p><br" took 33 s).
_TAG_NAME = re.compile(r"<(/?)([a-zA-Z][^\s/>]*)")
_NOT_NESTING = frozenset({
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr",
    "p", "li", "dt", "dd", "option", "optgroup", "tr", "td", "th", "tbody", "thead", "tfoot", "colgroup", "caption",
    "rb", "rt", "rp", "rtc",
})


def too_deep(markup: str) -> bool:
    depth = 0
    for m in _TAG_NAME.finditer(markup):
        if m.group(2).lower() in _NOT_NESTING:
            continue
        if m.group(1):
            depth = max(depth - 1, 0)
        else:
            depth += 1
            if depth > MAX_DEPTH:
                return True
    return False


# The same parser appends each character reference of a text to it one by one, in quadratic time (400,000 "&"
# took 4.5 s): past this many, the message is shown as its text too.
MAX_REFERENCES = 50_000


# C1 control characters (U+0080-U+009F, invisible) cost that parser quadratic time too (400,000 took 2.5 s):
# dropped before it reads the markup.
_C1_CONTROLS = re.compile("[\x80-\x9f]+")


# Its serializer writes each no-break space as "&nbsp;" in quadratic time (1 MB of " \xa0" took 5.7 s): the
# parser reads a stand-in instead, a noncharacter (meaningless in text, so removed from the input first), and
# the stand-in becomes "&nbsp;" afterwards, as the serializer would have written it (in text and attributes).
_NBSP_STAND_IN = "\ufdd0"


def _clean(raw: str, attribute_filter=None) -> str:
    raw = _C1_CONTROLS.sub("", raw or "")
    if too_deep(raw) or raw.count("&") > MAX_REFERENCES:
        return text_to_html(html_to_text(raw))  # every character escaped: nothing of the markup is kept
    raw = raw.replace(_NBSP_STAND_IN, "").replace("\xa0", _NBSP_STAND_IN)
    return nh3.clean(
        raw,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        attribute_filter=attribute_filter,
        url_schemes={"http", "https", "mailto", "cid"},
        link_rel="noopener noreferrer nofollow",
    ).replace(_NBSP_STAND_IN, "&nbsp;")


def sanitize_html(raw: str) -> str:
    """Keep formatting, drop scripts, styles, event handlers and unsafe URLs."""
    return _clean(raw)


def _email_attribute(tag: str, attribute: str, value: str) -> str | None:
    # An image from the web would tell the sender when (and from where) an agent read the message.
    if tag == "img" and attribute == "src" and not value.lower().startswith("cid:"):
        return None
    return value


def sanitize_email_html(raw: str) -> str:
    """A customer's HTML email for display: as ``sanitize_html``, and images only from the message itself
    (``cid:``, shown from its attachments), never fetched from the web. An image left without its source
    (a tracking pixel) goes too: it would only leave an empty line."""
    return _SOURCELESS_IMG.sub("", _clean(raw, _email_attribute))


_SOURCELESS_IMG = re.compile(r"<img(?![^>]*\ssrc=)[^>]*>")


_BLOCK_END = re.compile(r"</(p|div|li|tr|h[1-6]|blockquote|pre)>|<br\s*/?>", re.I)
_TAG = re.compile(r"<[^<>]+>")  # not [^>]+: each "<" of "<<<<…" would be scanned to the end (quadratic)
_SPACES = re.compile(r"[ \t]+")
_BLANK_LINES = re.compile(r"\n{3,}")


# What the sanitizer's serializer writes; anything else goes through html.unescape (a Python call per reference).
_OTHER_REFERENCE = re.compile(r"&(?!(?:lt|gt|amp|nbsp|quot);)")


def _unescape(text: str) -> str:
    if _OTHER_REFERENCE.search(text):
        return html.unescape(text)
    return (text.replace("&lt;", "<").replace("&gt;", ">").replace("&nbsp;", "\xa0").replace("&quot;", '"')
            .replace("&amp;", "&"))


def html_to_text(markup: str) -> str:
    text = _BLOCK_END.sub("\n", markup or "")
    text = _unescape(_TAG.sub("", text))
    text = _SPACES.sub(" ", text)
    return _BLANK_LINES.sub("\n\n", "\n".join(line.strip() for line in text.splitlines())).strip()


def text_to_html(text: str) -> str:
    """Plain text typed by an agent or a customer, escaped, paragraphs kept."""
    return linebreaks(text or "", autoescape=True)


def body_from(*, text: str = "", html_body: str = "") -> tuple[str, str]:
    """(sanitized html, plain text) from whichever form the channel gives."""
    if html_body:
        clean = sanitize_html(html_body)
        return clean, (text or html_to_text(clean)).strip()
    text = (text or "").replace("\r\n", "\n").strip()
    return text_to_html(text), text


NEUTRAL_SUBJECT_CHARS = 40
_LINKLIKE = ("://", "@", "www.")


def neutral_subject(subject: str, limit: int = NEUTRAL_SUBJECT_CHARS) -> str:
    """A subject someone typed, made safe to repeat to an address that may not be theirs: one line, cut
    short, and without anything a mail client would turn into a link (URLs, addresses, domain names are
    replaced by "[…]"). Word by word, no regular expression: linear on any input."""
    words = []
    for word in (subject or "")[:1000].split():
        lowered = word.lower()
        dotted = "." in lowered.strip(".,;:!?…»«()[]\"'")
        if any(mark in lowered for mark in _LINKLIKE) or dotted:
            word = "[…]"
        words.append(word)
    text = " ".join(words)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
