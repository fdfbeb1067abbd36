"""Property (hypothesis): adversarial input is read in bounded time (issue 15).

Documents of about 1 MB are built by repeating fragments chosen to hurt parsers and regular expressions
(runs of <br>, &nbsp;, empty paragraphs, unclosed tags, bare "<" and "&", nested blocks, quote headers,
signature lines, RFC 2047 openings…), mixed with random text. Bounds:
- the HTML-to-text path (sanitize then convert) and the text path (quote/signature folding, header
  decoding) each read 1 MB in under 1 s;
- the whole display path of an email (two sanitizer passes, the HTML quote finder, trailing blank space)
  in under 3 s.
Before this issue, 80 KB of <br> took 12 s in the display path and 50 KB of "<img " took 48 s.
"""

from __future__ import annotations

import functools
import time

from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from lumiodesk.html_sanitizer import html_to_text, sanitize_email_html, sanitize_html
from tickets.email.intake import _bodies
from tickets.email.parsing import ParsedEmail, decode_header_value, split_quoted, split_quoted_html

SIZE = 1_000_000
FRAGMENTS = [
    "<br>", " ", "&nbsp;", "<p>", "</p>", "<p> </p>", "<div>", "</div>", "<", ">", "<img ", "<img src=x>", "<a ",
    "<b>", "\n", "> ", "Le a ", "-- \n", "De : x\n", "Envoyé : y\n", "_" * 12 + "\n", "=?a?q?", "<!--", "-->",
    "<blockquote>", "&", "&#", "&amp;", "<br", "\t", "a", "<table><tr><td>", "<li>", "=?utf-8?q?", "?=", "On x wrote:",
    "\u00a0", "<hr>", "<div class=\"gmail_quote\">", "'", '"',
]
settings = functools.partial(hypothesis_settings, database=None, deadline=None, max_examples=12, derandomize=True,
                             suppress_health_check=list(HealthCheck))


@st.composite
def adversarial(draw) -> str:
    """One to three fragments (sometimes with random characters), to be repeated to 1 MB: the example
    hypothesis reports is this unit, not the megabyte."""
    unit = "".join(draw(st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=3)))
    return unit + draw(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=3))


def document(unit: str) -> str:
    return "hello" + (unit * (SIZE // len(unit) + 1))[:SIZE] + "x"


def _seconds(fn, *args) -> float:
    """CPU time of this process, the best of two runs: the machine is shared (2 cores, parallel test runs), so
    wall time is not ours and even CPU time swells under contention (0.3 s alone, 1.04 s once in a full run)."""
    best = float("inf")
    for _ in range(2):
        start = time.process_time()
        fn(*args)
        best = min(best, time.process_time() - start)
        if best < 0.5:
            break
    return best


@settings()
@given(adversarial())
def test_html_to_text_reads_1_mb_in_under_a_second(unit):
    assert _seconds(lambda d: html_to_text(sanitize_html(d)), document(unit)) < 1


@settings()
@given(adversarial())
def test_quote_and_signature_folding_and_headers_read_1_mb_in_under_a_second(unit):
    doc = document(unit)
    assert _seconds(split_quoted, doc) < 1
    assert _seconds(decode_header_value, doc.replace("\n", " ")) < 1


@settings(max_examples=8)
@given(adversarial())
def test_the_whole_display_path_of_an_email_is_bounded(unit):
    parsed = ParsedEmail()
    parsed.html = document(unit)
    assert _seconds(_bodies, parsed) < 3


def test_the_known_bad_inputs():
    """The reproductions of the issue and of the audit, named."""
    for doc in ("hello" + "<br>" * 20_000 + "x", "<img " * 10_000, "<div>" * 40_000, "&" * 400_000,
                "<" * 200_000, "<p> </p><br" * 20_000, " \x80" * 200_000):
        start = time.process_time()
        split_quoted_html(doc)
        sanitize_email_html(doc)
        html_to_text(sanitize_html(doc))
        assert time.process_time() - start < 2, doc[:10]


def test_non_breaking_space_runs_are_read_in_under_a_second():
    """Found by the property test above when it ran with random examples (5.7 s of CPU for 1 MB): the
    sanitizer's serializer wrote each no-break space in quadratic time; it now reads a stand-in."""
    assert _seconds(lambda d: html_to_text(sanitize_html(d)), document(" \u00a0")) < 1
