"""Properties (hypothesis): whatever bytes arrive, the parser does not raise and intake keeps them.

- ``parse_email`` on any byte string, and on structured messages mixing headers, RFC 2047 words,
  MIME parts, charsets (real, lying, unknown, Python codecs that are not charsets) and random bytes,
  returns a ParsedEmail whose strings PostgreSQL can store (no NUL, no lone surrogate).
- ``intake.ingest`` on the same ends as IMPORTED (with a ticket message), DUPLICATE, IGNORED or
  QUARANTINED, never with an exception, and the InboundEmail row holds exactly the input bytes.
"""

from __future__ import annotations

import functools
import re

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tickets.email import intake
from tickets.email.models import InboundEmail, InboundStatus, Mailbox
from tickets.email.parsing import ParsedEmail, decode_bytes, decode_header_value, parse_email, split_quoted
from tickets.models import Message

SURROGATE = re.compile("[\ud800-\udfff]")
CHARSETS = ["utf-8", "iso-8859-1", "windows-1252", "us-ascii", "koi8-r", "shift_jis", "gb2312", "big5", "utf-16",
            "utf-7", "iso-2022-jp", "ks_c_5601-1987", "x-unknown", "unknown-8bit", "bogus-cs", "undefined", "idna",
            "punycode", "unicode_escape", "raw_unicode_escape", "rot13", "base64", "zlib", "hex", "", '"utf-8"',
            "utf-8*fr"]
# No example database on disk (no .hypothesis/ in the project); every run explores afresh.
settings = functools.partial(hypothesis_settings, database=None, deadline=None)
TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=40)


def storable(value: str) -> bool:
    return "\x00" not in value and not SURROGATE.search(value)


def check_parsed(p: ParsedEmail) -> None:
    assert isinstance(p, ParsedEmail)
    for value in (p.subject, p.from_name, p.from_email, p.message_id, p.text, p.html, p.reply_to, p.auto_reason,
                  *p.to, *p.cc, *p.in_reply_to, *p.references, *(a.filename for a in p.attachments)):
        assert isinstance(value, str)
        assert storable(value), repr(value)
    assert len(p.subject) <= 255
    assert all(isinstance(a.data, bytes) for a in p.attachments)


@st.composite
def encoded_word(draw) -> bytes:
    charset = draw(st.sampled_from(CHARSETS)).strip('"')
    encoding = draw(st.sampled_from(["q", "Q", "b", "B"]))
    payload = draw(st.one_of(
        st.binary(max_size=20).map(lambda b: b.hex().upper().encode()),
        st.text(alphabet="=_?ABCDEFabcdef0123456789+/!*", max_size=20).map(str.encode),
        st.binary(max_size=10),
    ))
    if draw(st.booleans()):
        payload = re.sub(rb"(..)", rb"=\1", payload) if encoding in "qQ" else payload
    end = draw(st.sampled_from([b"?=", b"?=", b"?", b""]))
    return b"=?" + charset.encode() + b"?" + encoding.encode() + b"?" + payload + end


HEADER_NAMES = ["From", "To", "Cc", "Subject", "Message-ID", "In-Reply-To", "References", "Reply-To", "Sender",
                "Date", "Content-Type", "Content-Transfer-Encoding", "Content-Disposition", "Auto-Submitted",
                "Precedence", "X-Autoreply", "List-Id", "Return-Path", "MIME-Version", "X-Random"]


@st.composite
def header_value(draw, name: str) -> bytes:
    pieces = draw(st.lists(st.one_of(
        encoded_word(),
        TEXT.map(lambda t: t.encode("utf-8")),
        st.tuples(TEXT, st.sampled_from(["latin-1", "cp1252", "koi8-r", "shift_jis"])).map(
            lambda tc: tc[0].encode(tc[1], "replace")),
        st.binary(max_size=12),
        st.sampled_from([b"<a@b.c>", b"Ren\xc3\xa9e <renee@example.org>", b'"Dupont, C" <c@d.e>', b"<>",
                         b"@@", b"\r\n ", b"\r\n\t", b";", b'"', b"text/plain; charset=", b"multipart/mixed",
                         b'multipart/mixed; boundary="b"', b"base64", b"quoted-printable", b"auto-replied",
                         b"attachment; filename*=utf-8''%E9%ZZ", b"bulk"]),
    ), max_size=6))
    return b" ".join(pieces)


@st.composite
def structured_message(draw) -> bytes:
    eol = draw(st.sampled_from([b"\r\n", b"\n", b"\r"]))
    names = draw(st.lists(st.sampled_from(HEADER_NAMES), max_size=10))
    headers = b"".join(name.encode() + b": " + draw(header_value(name)) + eol for name in names)
    charset = draw(st.sampled_from(CHARSETS))
    text = draw(TEXT)
    part_body = draw(st.one_of(
        st.just(text.encode("utf-8")),
        st.binary(max_size=60),
        st.just(text.encode("utf-16", "surrogatepass")),
    ))
    part_headers = (b"Content-Type: " + draw(st.sampled_from([b"text/plain", b"text/html", b"image/png",
                                                              b"application/octet-stream", b"message/rfc822",
                                                              b"multipart/alternative"]))
                    + b"; charset=" + charset.encode() + eol
                    + b"Content-Transfer-Encoding: " + draw(st.sampled_from([b"8bit", b"base64", b"quoted-printable",
                                                                          b"x-uuencode", b"7bit"])) + eol)
    if draw(st.booleans()):
        part_headers += b"Content-Disposition: attachment; filename*=" + charset.encode() + b"''" + \
            draw(st.binary(max_size=8)).hex().encode() + b"%FF.pdf" + eol
    if draw(st.booleans()):
        nested = draw(st.integers(min_value=1, max_value=4))
        body = part_headers + eol + part_body
        for level in range(nested):
            boundary = b"b%d" % level
            body = (b'Content-Type: multipart/mixed; boundary="' + boundary + b'"' + eol + eol
                    + b"--" + boundary + eol + body + eol + b"--" + boundary
                    + draw(st.sampled_from([b"--", b"", b"-"])) + eol)
        return headers + body
    return headers + part_headers + eol + part_body


@given(st.binary(max_size=2000))
@settings(max_examples=300)
def test_parse_email_never_raises_on_bytes(raw):
    check_parsed(parse_email(raw))


@given(structured_message())
@settings(max_examples=150)
def test_parse_email_never_raises_on_structured_messages(raw):
    check_parsed(parse_email(raw))


@given(st.binary(max_size=200), st.sampled_from(CHARSETS + ["x-" + "a" * 300, "utf\x00-8", "é"]))
@settings(max_examples=200)
def test_decode_bytes_never_raises(data, charset):
    assert storable(decode_bytes(data, charset).replace("\x00", ""))


@given(st.one_of(st.text(max_size=200), header_value("Subject").map(lambda b: b.decode("ascii", "surrogateescape"))))
@settings(max_examples=200)
def test_decode_header_value_never_raises(value):
    assert storable(decode_header_value(value))


@given(st.text(max_size=400))
@settings(max_examples=200)
def test_split_quoted_loses_nothing(text):
    new, quoted = split_quoted(text)
    assert isinstance(new, str) and isinstance(quoted, str)
    if quoted:
        assert new.strip() and new in text and quoted in text


# --- through intake, into the database ---------------------------------------------------------------


@pytest.fixture
def support(world):
    return Mailbox.objects.create(organization=world.org, name="Support", address="support@acme.test")


FROMS = [b"Claire Dupont <claire.dupont@example.com>", b"=?utf-8?q?Ren=C3=A9e?= <renee@example.org>",
         b"mailer-daemon@example.com", b"bad@@address", b"", b"\xff\xfe <x@y.z>"]


@st.composite
def inbound_raw(draw) -> bytes:
    kind = draw(st.sampled_from(["binary", "structured", "from+structured"]))
    if kind == "binary":
        return draw(st.binary(max_size=1500))
    raw = draw(structured_message())
    if kind == "from+structured":
        mid = draw(st.sampled_from([b"", b"Message-ID: <fixed@example.com>\r\n",
                                    b"Message-ID: <%d@example.com>\r\n" % draw(st.integers(0, 5))]))
        raw = b"From: " + draw(st.sampled_from(FROMS)) + b"\r\nSubject: " + draw(header_value("Subject")) + \
            b"\r\n" + mid + raw
    return raw


@given(raw=inbound_raw())
@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_ingest_always_ends_somewhere_and_keeps_the_bytes(support, raw):
    inbound = intake.ingest(mailbox=support, raw=raw, source="file")  # never raises
    stored = InboundEmail.objects.get(pk=inbound.pk)
    assert bytes(stored.raw) == raw
    assert stored.size == len(raw)
    assert stored.status in (InboundStatus.IMPORTED, InboundStatus.DUPLICATE, InboundStatus.IGNORED,
                             InboundStatus.QUARANTINED)
    assert stored.processed_at is not None
    if stored.status == InboundStatus.IMPORTED:
        message = Message.objects.get(pk=stored.message_id)
        assert message.ticket_id == stored.ticket_id
        assert message.body_text.strip()
    if stored.status == InboundStatus.DUPLICATE:
        assert stored.duplicate_of_id is not None
    if stored.status == InboundStatus.QUARANTINED:
        assert stored.reason
    # Nothing unexpected: an exception is a quarantine *reason*, never a crash, but it would be a bug.
    assert not re.match(r"^[A-Z]\w+(Error|Exception): ", stored.reason), stored.reason
