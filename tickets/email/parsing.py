"""Turn any byte string into a ParsedEmail. Never raises: what cannot be read is
reported in ``problems`` and the caller decides (import with what we have, or quarantine).

Handles every charset Python knows, mislabelled ones (windows-1252 sent as
iso-8859-1 or us-ascii, invalid UTF-8), RFC 2047 encoded words, RFC 2231 file
names, nested multiparts, inline images and attachments.
"""

from __future__ import annotations

import binascii
import codecs
import contextlib
import email
import email.utils
import hashlib
import logging
import mimetypes
import quopri
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.errors import InvalidBase64LengthDefect
from email.message import Message as EmailMessage
from email.policy import Compat32
from email.utils import getaddresses, parsedate_to_datetime
from html.parser import HTMLParser

# Every "except Exception" below lets the task's soft time limit through first: a message cut by the limit must
# be quarantined as too long (tickets/email/intake.py), never read on as if a header or a charset were bad.
from celery.exceptions import SoftTimeLimitExceeded
from charset_normalizer import from_bytes
from flufl.bounce import all_failures
from tnefparse import TNEF

MAX_HEADER = 998 * 4

# Labels that lie: mail clients often say iso-8859-1 or ascii and send windows-1252 (or UTF-8).
CHARSET_ALIASES = {
    "iso-8859-1": "windows-1252",
    "iso8859-1": "windows-1252",
    "latin1": "windows-1252",
    "latin-1": "windows-1252",
    "us-ascii": "windows-1252",
    "ascii": "windows-1252",
    "ks_c_5601-1987": "cp949",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-sjis": "cp932",
    # Windows supersets that mailers label with the base name: Shift_JIS sent by Windows is cp932 (① ㈱),
    # EUC-KR is cp949, Big5 often carries HKSCS characters, ISO-2022-JP its JIS X 0201 katakana extension.
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "euc-kr": "cp949",
    "big5": "big5hkscs",
    "iso-2022-jp": "iso2022_jp_ext",
    "x-unknown": "utf-8",
    "unknown-8bit": "utf-8",
    "utf8": "utf-8",
    "cp-850": "cp850",
}


class _RawHeaders(Compat32):
    """compat32, except that a header holding raw 8-bit bytes is returned as it is (surrogate-escaped)
    instead of as a ``Header`` whose ``str()`` turns every such byte into U+FFFD: raw UTF-8 subjects,
    names and file names (RFC 6532, or just sloppy mailers) are decoded by ``decode_header_value``."""

    def header_fetch_parse(self, name, value):
        return value


RAW_POLICY = _RawHeaders()
# Labels whose bytes are, in practice, windows-1252 or UTF-8 as often as what they claim.
_LYING_LABELS = {k for k, v in CHARSET_ALIASES.items() if v == "windows-1252"}
_SURROGATES = re.compile("[\ud800-\udfff]")


def _no_surrogates(text: str) -> str:
    return _SURROGATES.sub("\ufffd", text)


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Decode with the declared charset, fixing the usual lies; never raises."""
    label = (charset or "").strip().strip("\"'").lower().split("*", 1)[0]  # RFC 2231 "utf-8*fr"
    candidates = []
    if label in _LYING_LABELS:
        # Valid non-ASCII UTF-8 is practically never real latin-1 text; then windows-1252, then latin-1.
        candidates += ["utf-8", "windows-1252", "latin-1"]
    elif label:
        candidates.append(CHARSET_ALIASES.get(label, label))
    # The declared charset refused the bytes: UTF-8, then the other encodings of the same script (Shift_JIS sent
    # as ISO-2022-JP, GBK as GB2312, Big5 as GB2312...), before windows-1252, which reads nearly anything.
    candidates += ["utf-8", *_SIBLINGS.get(label, ()), "windows-1252"]
    for cs in candidates:
        if _not_a_charset(cs):
            continue
        try:
            text = data.decode(cs)
        except SoftTimeLimitExceeded:
            raise
        except Exception:  # unknown label, not a text codec, or a codec that refuses the bytes (UnicodeError)
            if cs == "utf-8" and (_mostly_utf8(data) or label in ("utf-8", "utf8") and _UTF8_SEQUENCE.search(data)):
                # UTF-8 with bytes that are not (a footer or a pasted line in Latin-1, a stray byte): the good
                # characters kept, rather than every accent turned into windows-1252 mojibake, and each stray
                # byte read as windows-1252 ("déjà", "divulgação"), the one encoding mixed into UTF-8 in practice.
                return _no_surrogates(data.decode("utf-8", errors=_MIXED_LATIN))
            continue
        # Declared utf-8 that decodes but is really latin-1 is caught by the strict decode above.
        if label in _WINDOWS_TWIN and _C1_CONTROLS.search(text):
            # ISO-8859-x has no printable character in 0x80-0x9F; windows-125x puts € „ “ ” – there.
            try:
                return _no_surrogates(data.decode(_WINDOWS_TWIN[label]))
            except UnicodeDecodeError:
                pass
        if cs in ("windows-1252", "latin-1") and _latin_implausible(text):
            # A Latin label (or none) on Cyrillic, Greek or CJK bytes: "Ýòî ñîîáùåíèå" is "Это сообщение".
            found = _other_script(data)
            if found is not None:
                return found
        if _SIBLINGS.get(label) is _JAPANESE and cs == "cp932" and _halfwidth_heavy(text):
            # EUC-JP sent as Shift_JIS reads as a run of half-width katakana, which no one writes at length.
            try:
                return _no_surrogates(data.decode("euc_jis_2004"))
            except UnicodeDecodeError:
                pass
        return _no_surrogates(text)
    return data.decode("utf-8", errors="replace")


_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f\s]{3,}")
_ASCII_LETTER, _NON_ASCII, _WORD = re.compile("[A-Za-z]"), re.compile(r"[^\x00-\x7f]"), re.compile(r"\w+")


def _latin_implausible(text: str) -> bool:
    """Bytes read as windows-1252 or Latin-1 that are no Latin text: most non-ASCII characters in runs of
    three or more, letters among them ("Ýòî ñîîáùåíèå", "ÓÊ¼þ´«ÊäÊ§°Ü£¡"). French, German, Spanish... put one
    accented letter, two at most ("créée", "Größe"), between ASCII letters; a run of symbols ("•••") has no
    letters."""
    wide = sum(1 for ch in text if ch > "\x7f")
    if wide < 3:
        return False
    runs = [r for r in _NON_ASCII_RUN.findall(text) if sum(ch.isalpha() for ch in r) >= 2]
    return sum(len(r) for r in runs) * 2 >= wide


# Scripts that single-byte Latin mojibake hides, by the first word of their characters' Unicode names; the
# Chinese, Japanese and Korean characters all count as one family (CJK), their punctuation as neutral.
_SCRIPT_WORDS = {"CYRILLIC": "cyrillic", "GREEK": "greek", "HEBREW": "hebrew", "ARABIC": "arabic",
                 "CJK": "cjk", "HIRAGANA": "cjk", "KATAKANA": "cjk", "HANGUL": "hangul"}
# Ranked by charset-normalizer, whose guess on a subject's dozen bytes is unreliable (each reading is checked
# by _plausible), then tried in this order. KOI8-R and windows-1251 both read any byte as a Cyrillic letter,
# the wrong one mostly as capitals.
_OTHER_SCRIPT_CODECS = ("cp1251", "koi8_r", "gb18030", "big5hkscs", "cp932", "euc_jis_2004", "cp949", "cp1253",
                        "cp1255", "cp1256")


def _plausible(text: str) -> bool:
    """Text of one non-Latin script: at least two letters of it, nine tenths of the non-ASCII letters in it,
    no half-width katakana, Cyrillic and Greek mostly in small letters (KOI8-R read as windows-1251, and
    the reverse, swaps the cases; CJK bytes read as Greek mix them), no word mixing ASCII letters with
    letters of an alphabetic script."""
    counts: dict[str, int] = {}
    letters = upper = lower = 0
    for ch in text[:20000]:  # a long body is judged by its beginning
        if ch <= "\x7f" or not ch.isalpha():
            continue
        letters += 1
        if "\uff61" <= ch <= "\uff9f":
            return False
        family = _SCRIPT_WORDS.get(unicodedata.name(ch, "?").split(" ", 1)[0])
        if family:
            counts[family] = counts.get(family, 0) + 1
        if family in ("cyrillic", "greek"):
            upper += ch.isupper()
            lower += ch.islower()
    if not counts:
        return False
    family, count = max(counts.items(), key=lambda kv: kv[1])
    if count < 2 or count * 10 < letters * 9:
        return False
    if upper > lower and lower:
        return False
    return family == "cjk" or not any(
        _ASCII_LETTER.search(w) and _NON_ASCII.search(w) for w in _WORD.findall(text[:20000])
    )


def _other_script(data: bytes) -> str | None:
    """The text of 8-bit bytes that a Latin reading turned into mojibake: charset-normalizer ranks the
    non-Latin single- and double-byte charsets mail uses (``_OTHER_SCRIPT_CODECS``), the first that gives
    plausible text of one script wins (then the others, in our order); None when none does: the Latin
    reading stands."""
    tried = set()
    try:
        guesses = [m.encoding for m in from_bytes(data, cp_isolation=list(_OTHER_SCRIPT_CODECS),
                                                  preemptive_behaviour=False)]
    except SoftTimeLimitExceeded:
        raise
    except Exception:
        guesses = []
    for codec in [*guesses, *_OTHER_SCRIPT_CODECS]:
        if codec in tried:
            continue
        tried.add(codec)
        try:
            text = data.decode(codec)
        except (UnicodeError, LookupError):
            continue
        if _plausible(text):
            return _no_surrogates(text)
    return None


def _halfwidth_heavy(text: str) -> bool:
    """EUC-JP read as Shift_JIS: more than a third of the non-ASCII characters are half-width katakana
    (U+FF61-U+FF9F), a fifth of them "､" (every EUC-JP hiragana starts with the byte 0xA4, Shift_JIS's "､").
    Real half-width katakana text uses "､" as a comma, now and then."""
    wide = sum(1 for ch in text if ch > "\x7f")
    half = sum(1 for ch in text if "\uff61" <= ch <= "\uff9f")
    return wide > 0 and half * 3 > wide and text.count("\uff64") * 5 > half


# Encodings of one script that mailers confuse. EUC before Shift_JIS: EUC-JP bytes often decode as (wrong)
# half-width katakana in Shift_JIS, while Shift_JIS text (its hiragana lead byte 0x82) almost never passes as EUC.
_JAPANESE = ("euc_jis_2004", "cp932", "iso2022_jp_ext")
_CHINESE = ("gb18030", "big5hkscs")
_KOREAN = ("cp949", "iso2022_kr")
_SIBLINGS = {
    **dict.fromkeys(("iso-2022-jp", "iso-2022-jp-2", "iso-2022-jp-3", "shift_jis", "shift-jis", "sjis", "x-sjis",
                     "cp932", "windows-31j", "euc-jp", "x-euc-jp"), _JAPANESE),
    **dict.fromkeys(("gb2312", "gbk", "gb18030", "cp936", "hz-gb-2312", "euc-cn", "x-gbk", "big5", "big5-hkscs",
                     "cp950"), _CHINESE),
    **dict.fromkeys(("euc-kr", "ks_c_5601-1987", "iso-2022-kr", "cp949", "uhc"), _KOREAN),
}

# An ISO-8859 label on windows-125x bytes (Outlook and friends): the Windows code page of the same script.
_WINDOWS_TWIN = {
    **{f"iso-8859-{n}": cp for n, cp in ((2, "cp1250"), (5, "cp1251"), (7, "cp1253"), (9, "cp1254"),
                                         (8, "cp1255"), (6, "cp1256"), (4, "cp1257"), (13, "cp1257"),
                                         (15, "cp1252"))},
    **{f"iso8859-{n}": cp for n, cp in ((2, "cp1250"), (5, "cp1251"), (7, "cp1253"), (9, "cp1254"))},
}
_C1_CONTROLS = re.compile("[\x80-\x9f]")

# Python's escape codecs are no MIME charset: a part labelled with one is read as UTF-8 or windows-1252,
# not unescaped ("\\S" would warn, "\\x41" would become "A").
_PYTHON_ONLY_CODECS = {"unicode-escape", "raw-unicode-escape"}


def _not_a_charset(label: str) -> bool:
    try:
        return codecs.lookup(label).name in _PYTHON_ONLY_CODECS
    except (LookupError, ValueError):  # unknown, or not even a name ("utf\x00-8")
        return False  # the decode below fails and the next candidate is tried


def _stray_as_windows_1252(exc: UnicodeDecodeError) -> tuple[str, int]:
    """A codec error handler: the bytes UTF-8 refused, read as windows-1252 (its five holes as Latin-1)."""
    return "".join(_CP1252_TABLE[b] for b in exc.object[exc.start:exc.end]), exc.end


_CP1252_TABLE = [bytes([b]).decode("windows-1252", errors="ignore") or chr(b) for b in range(256)]
_MIXED_LATIN = "lumiodesk-utf8-stray-windows-1252"
codecs.register_error(_MIXED_LATIN, _stray_as_windows_1252)

_UTF8_SEQUENCE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")


def _mostly_utf8(data: bytes) -> bool:
    valid = len(_UTF8_SEQUENCE.findall(data))
    if not valid:
        return False
    broken = data.decode("utf-8", errors="replace").count("\ufffd") - data.count(b"\xef\xbf\xbd")
    return valid > broken


def _recover_8bit(value: str) -> str:
    """A header value as the parser gives it: raw 8-bit bytes surrogate-escaped, or raw ISO-2022-JP (7-bit
    with escape sequences, as Japanese mailers write names and subjects without RFC 2047). Decode them."""
    if "\x1b" in value and not _SURROGATES.search(value):
        for codec in ("iso2022_jp_ext", "iso2022_jp_2004", "iso2022_jp_2"):
            try:
                return value.encode("latin-1").decode(codec)
            except (UnicodeError, LookupError):
                continue
        return value.replace("\x1b", "")
    if not _SURROGATES.search(value):
        return value
    try:
        data = value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return _no_surrogates(value)
    return decode_bytes(data, None)


_ENCODED_WORD = re.compile(r"=\?([^?\s]*)\?([qQbB])\?(.*?)\?=", re.S)


def _decode_word(encoding: str, payload: str) -> bytes | None:
    data = payload.encode("utf-8", "replace")
    try:
        if encoding in "qQ":
            return re.sub(rb"=([0-9A-Fa-f]{2})", lambda m: bytes([int(m.group(1), 16)]), data.replace(b"_", b" "))
        return _lenient_base64(data)  # a truncated word too: its lone last sextet dropped
    except (binascii.Error, ValueError):
        return None


def _decode_encoded_words(text: str) -> str:
    """RFC 2047, word by word: a broken word stays as it is without spoiling the others; adjacent words
    in the same charset are joined before decoding (a character may be split between two words)."""
    if "=?" not in text:
        return text
    out: list[str] = []
    run: list = []  # [charset, bytearray] of the current run of encoded words

    def flush() -> None:
        if run:
            out.append(decode_bytes(bytes(run[1]), run[0]))
            run.clear()

    pos = 0
    # Searched only up to the last "?=": every word the search starts then finds its end, so a header full of
    # "=?x?q?" openings is read in linear time (unbounded, each opening scanned to the end: quadratic).
    last_end = text.rfind("?=") + 2
    for m in _ENCODED_WORD.finditer(text, 0, last_end if last_end >= 2 else 0):
        between = text[pos:m.start()]
        pos = m.end()
        if between and not (run and not between.strip()):  # blanks between two encoded words are dropped
            flush()
            out.append(between)
        charset = m.group(1).split("*", 1)[0]
        data = _decode_word(m.group(2), m.group(3))
        if data is None:
            flush()
            out.append(m.group(0))
        elif run and run[0].lower() == charset.lower():
            run[1] += data
        else:
            flush()
            run[:] = [charset, bytearray(data)]
    flush()
    out.append(text[pos:])
    return "".join(out)


def decode_header_value(value, *, keep_spaces: bool = False) -> str:
    """An RFC 2047 header as text, tolerant of broken encoded words and raw 8-bit bytes. ``keep_spaces``: a
    name (a file name, a subject that names an attached message) keeps its runs of spaces as a mail client
    shows them; only the folding (a line break before a blank) and control characters go."""
    if value is None:
        return ""
    try:
        raw = str(value)
    except SoftTimeLimitExceeded:
        raise
    except Exception:
        return ""
    try:
        text = _decode_encoded_words(_recover_8bit(raw))
    except SoftTimeLimitExceeded:
        raise
    except Exception:
        text = raw
    return _clean_name(text) if keep_spaces else _clean_header(text)


_FOLD = re.compile(r"\r?\n(?=[ \t])")
_CONTROL_RUN = re.compile(r"[\x00-\x1f\x7f]+")


def _clean_name(text: str) -> str:
    """A header value unfolded (RFC 5322: a line break before a blank goes, the blank stays), every other control
    character (a tab, a stray line break) a space, the spaces inside kept; the ends trimmed. Path separators and
    the length are ``tickets.attachments.safe_filename``'s business."""
    text = _CONTROL_RUN.sub(" ", _FOLD.sub("", text)).strip()
    return _no_surrogates(text)[:MAX_HEADER]


def _clean_header(text: str) -> str:
    text = text.replace("\r", " ").replace("\n", " ").replace("\x00", "")
    text = re.sub(r"\s+", " ", text).strip()
    # Lone surrogates (undecodable bytes, odd codecs) become U+FFFD: PostgreSQL cannot store them.
    return _no_surrogates(text)[:MAX_HEADER]


@dataclass
class ParsedAttachment:
    filename: str
    content_type: str
    data: bytes
    inline: bool = False
    content_id: str = ""


@dataclass
class Bounce:
    """A delivery report: who could not be reached, why, and the Message-IDs of the message that bounced."""

    recipients: list[str] = field(default_factory=list)
    temporary: bool = False
    reason: str = ""
    original_ids: list[str] = field(default_factory=list)


@dataclass
class ParsedEmail:
    message_id: str = ""
    in_reply_to: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    subject: str = ""
    from_name: str = ""
    from_email: str = ""
    reply_to: str = ""
    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    date: datetime | None = None
    text: str = ""
    html: str = ""
    attachments: list[ParsedAttachment] = field(default_factory=list)
    sender_header: str = ""  # where from_email was read: "from", "reply-to", "sender" or "return-path"
    auto_reason: str = ""  # why this is an auto-reply / bounce / list mail, or ""
    bounce: Bounce | None = None  # a delivery report (DSN or a common non-standard bounce)
    # Parts that could not be decoded: kept as received (raw, as an attachment of that name); intake leaves a
    # note naming them on the ticket. Nothing a customer sent is lost.
    unreadable: list[str] = field(default_factory=list)
    truncated: list[str] = field(default_factory=list)  # files whose encoding was cut short: decoded as far as it goes
    # Text parts declared base64 whose content is not base64 (plain words: decoding gives noise): their words as
    # received, the text only when the message has no other (an HTML twin is what a client shows then).
    undecoded_text: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def is_automatic(self) -> bool:
        return bool(self.auto_reason)

    @property
    def thread_ids(self) -> list[str]:
        seen, out = set(), []
        for mid in [*self.in_reply_to, *reversed(self.references)]:
            if mid and mid not in seen:
                seen.add(mid)
                out.append(mid)
        return out


_MSGID = re.compile(r"<([^<>\s]+)>")


def normalize_message_id(value: str) -> str:
    value = (value or "").strip()
    m = _MSGID.search(value)
    if m:
        return m.group(1)[:500]
    value = value.strip("<> \t")
    return value[:500] if value and " " not in value else ""


def message_ids(value: str) -> list[str]:
    found = _MSGID.findall(value or "")
    if not found and value and value.strip():
        found = [v for v in re.split(r"[\s,]+", value.strip()) if v]
    found = [f[:500] for f in found]
    # A long References header: keep the root and the nearest ancestors (the end), not the oldest 100.
    return found if len(found) <= 100 else found[:1] + found[-99:]


def raw_digest(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


# What a relay adds to a subject: a list's tag ("[ops] ", "Re: [ops] ..."), a gateway's "[EXTERNAL]". Bounded
# (linear): a bracket pair with no bracket inside, 100 characters at most.
_SUBJECT_TAG = re.compile(r"\[[^\[\]]{0,100}\]")


@dataclass(frozen=True)
class RelayIdentity:
    """What makes two copies of a message the same message, whatever route delivered them (with the
    Message-ID, ``InboundEmail.message_key``). Read from the headers only.

    Only what a relay keeps: the sender's address (lowercased) and the Date header (as an instant in UTC;
    as text, blanks collapsed, when it does not parse). A mailing list tags the subject ("[list] ...") and
    adds a footer to the body; a relay adds Received headers, changes line ends or re-encodes a part
    (8BITMIME downgrade): the body is not in it, and the subject only as a tie-breaker that a relay's
    additions never break (``same_message``). The recipients are not in it either: they tell apart
    nothing the sender and the Date do not (a constant Message-ID is a sender's, sent to the same
    addresses), and forwarders that resend change them. Two messages that share a Message-ID (a bulk
    mailer's or a misconfigured application's constant one) differ by their sender or their Date. A list
    that rewrites the From of its copies (DMARC "munging": "Alice via list") makes its copy a message of its
    own: a second ticket, not a lost message."""

    sender_date: str  # SHA-256 of the sender's address and the Date, hex
    subject: str  # the subject without bracketed tags, case and blanks folded

    @property
    def digest(self) -> str:
        """``InboundEmail.content_digest`` (64 characters): sender and Date first, so that the originals a
        copy may belong to are found by prefix, then the subject's (originals differing only by it)."""
        return self.sender_date[:48] + hashlib.sha256(self.subject.encode("utf-8", "surrogatepass")).hexdigest()[:16]

    def same_message(self, other: RelayIdentity) -> bool:
        """The same sender and Date, and subjects one of which holds the other: a relay adds to a subject
        ("[list] ", "*****SPAM***** ", "EXTERNAL: "), never takes away. Different subjects with the same
        sender, Date and Message-ID (test fixtures derived from one another, a mailer's template reused in
        the same second) stay apart; so does a subject from an empty one."""
        if self.sender_date != other.sender_date:
            return False
        a, b = self.subject, other.subject
        return a == b or bool(a and b and (a in b or b in a))


UNDATED_TEXT = 1000  # characters of an undated message's text that stand for its Date in its identity


def relay_identity(headers: EmailMessage, *, undated_text: str = "") -> RelayIdentity:
    """``undated_text``: the message's text, read only when it has no Date header (an application's mail sent
    straight to a mailbox). Its start (blanks collapsed, case folded: what a relay's re-encoding or line ends
    never change) stands for the Date: two undated alerts with one Message-ID, one sender and one subject differ
    by their text only, and each stays a message of its own instead of the second being taken for a copy of the
    first and never shown. A relay that adds a footer to a short undated message makes its copy a second
    message of the ticket: seen twice rather than lost."""
    try:
        pairs = addresses([str(v) for v in headers.get_all("from") or []])
        sender = pairs[0][1].lower() if pairs else " ".join(decode_header_value(headers.get("from")).split()).lower()
    except SoftTimeLimitExceeded:
        raise
    except Exception:
        sender = ""
    date = " ".join(decode_header_value(headers.get("date")).split())
    try:
        when = parsedate_to_datetime(date)
        if when.tzinfo is None:  # "-0000": UTC, time zone unknown (RFC 5322 3.3)
            when = when.replace(tzinfo=UTC)
        date = when.astimezone(UTC).isoformat()
    except SoftTimeLimitExceeded:
        raise
    except Exception:
        date = date.lower()
    if not date:
        # Its start only (a text of megabytes is not split whole): blanks collapse, so read some more than kept.
        date = "undated " + " ".join(undated_text[:8 * UNDATED_TEXT].split()).casefold()[:UNDATED_TEXT]
    h = hashlib.sha256()
    for value in (sender, date):
        h.update(value.encode("utf-8", "surrogatepass") + b"\0")
    subject = _SUBJECT_TAG.sub(" ", decode_header_value(headers.get("subject"))[:MAX_HEADER])
    return RelayIdentity(h.hexdigest(), " ".join(subject.split()).casefold())


def addresses(values: list[str]) -> list[tuple[str, str]]:
    """(name, address) pairs. The header is split into addresses *before* RFC 2047 words are decoded:
    an encoded display name may hold a comma or an address of its own ("=?utf-8?q?a=40b.com=2C?=
    <x@evil>") and must not become a second (or a spoofed first) address.

    Lenient where a reader is: an unquoted name before a bare address ("Test test@example.com",
    "first last@example.com"), a trailing dot ("user@example.com."), a stray bracket
    ("\"Some Name\"@example.com>"), a raw ISO-2022-JP name. An address that is not one whatever the
    reading ("claire@@example..com") is left out."""
    out = []
    for value in values:
        if not value:
            continue
        try:
            # Cut to a size no real header reaches (hundreds of recipients): the stdlib address parser is
            # slow (though linear) on a crafted 50 KB value.
            text = _recover_8bit(str(value)[:_MAX_ADDRESS_HEADER]).replace("\r", " ").replace("\n", " ")
            pairs = getaddresses([text])
        except SoftTimeLimitExceeded:
            raise
        except Exception:
            continue
        found = False
        for name, addr in pairs:
            name, addr = _tidy_address(name, _clean_header(addr or ""))
            if addr:
                out.append((decode_header_value(name), addr))
                found = True
        if not found:  # the strict split found nothing: the first address-shaped token a reader would see
            bare = _ENCODED_WORD.sub(" ", text)  # never an address hidden in an encoded display name
            span = address_token(bare)
            if span:
                addr = _valid_address(bare[span[0]:span[1]])
                if addr:
                    name = bare[: span[0]].strip(" \t<>\"'")
                    out.append((decode_header_value(name if "@" not in name else ""), addr))
    return out


_MAX_ADDRESS_HEADER = 16 * 1024
_NOT_IN_ADDRESS = frozenset(' \t\r\n<>()[]",;:@')


def address_token(text: str) -> tuple[int, int] | None:
    """(start, end) of the first address-shaped token: a run of characters that are not blanks, brackets,
    quotes or separators on each side of one "@". Scanned outwards from each "@" (no regex: a search
    with a leading unbounded class would be quadratic on a long run without "@"); every character is
    looked at a bounded number of times."""
    at = text.find("@")
    while at != -1:
        start = at
        while start > 0 and text[start - 1] not in _NOT_IN_ADDRESS:
            start -= 1
        end = at + 1
        while end < len(text) and text[end] not in _NOT_IN_ADDRESS:
            end += 1
        if start < at and end > at + 1:
            return start, end
        at = text.find("@", at + 1)
    return None
_QUOTED_LOCAL = re.compile(r'"[^"\\\r\n]{1,64}"@[^\s@<>()\[\]",;:]+')


def _valid_address(addr: str) -> str:
    """The address as stored (lower case, stray brackets and trailing dots dropped), or "" when it is not
    one: exactly one "@", something before it, a domain of non-empty labels."""
    addr = addr.strip().strip("<>").strip().rstrip(".").lower()
    if _QUOTED_LOCAL.fullmatch(addr):
        local, _at, domain = addr.rpartition("@")
    else:
        if addr.count("@") != 1 or any(ch.isspace() for ch in addr) or any(ch in addr for ch in '<>()[],;:"'):
            return ""
        local, _at, domain = addr.partition("@")
    if not local or not domain or any(not label for label in domain.split(".")):
        return ""
    return addr[:320]


def _tidy_address(name: str, addr: str) -> tuple[str, str]:
    """getaddresses' (name, address) made readable: "Test test@example.com" comes back as one address
    "Test test@example.com"; the last blank-separated token holding "@" is the address, the rest the name."""
    if "@" not in addr:
        return name, ""
    if not _QUOTED_LOCAL.fullmatch(addr.strip("<> ").rstrip(".")) and any(ch.isspace() for ch in addr):
        tokens = addr.split()
        at = max(i for i, t in enumerate(tokens) if "@" in t)
        name = name or " ".join(tokens[:at]).strip("\"' ")
        addr = tokens[at]
    return name, _valid_address(addr)


AUTO_SENDERS = re.compile(r"^(mailer-daemon|postmaster|no-?reply|do-?not-?reply|bounces?)([+@]|$)", re.I)


def detect_automatic(msg: EmailMessage, from_email: str) -> str:
    def h(name: str) -> str:
        # Decoded and cleaned: the value may end up in the stored reason (no raw 8-bit bytes there).
        return decode_header_value(msg.get(name, "") or "").lower()

    auto = h("auto-submitted")
    if auto and auto != "no":
        return f"Auto-Submitted: {auto}"
    if h("x-autoreply") or h("x-autorespond") or h("x-auto-response-suppress") in ("all", "oof"):
        return "auto-reply header"
    precedence = h("precedence")
    if precedence in ("bulk", "junk", "list", "auto_reply"):
        return f"Precedence: {precedence}"
    if h("list-id") or h("list-unsubscribe"):
        return "mailing list"
    return_path = h("return-path")
    if return_path in ("<>", "") and msg.get("return-path") is not None:
        return "null sender"
    if from_email and AUTO_SENDERS.match(from_email):
        return f"automatic sender {from_email}"
    ctype = (msg.get_content_type() or "").lower()
    if ctype == "multipart/report":
        return "delivery report"
    return ""


def _param_text(value) -> str:
    """A MIME parameter: RFC 2231 (charset, language, %-decoded text) or a plain (maybe RFC 2047) string."""
    if isinstance(value, tuple):
        charset, _lang, text = value
        text = email.utils.unquote(text or "")
        try:
            data = text.encode("latin-1", "surrogateescape")  # the %XX bytes, one char each
        except UnicodeEncodeError:
            data = text.encode("utf-8", "surrogateescape")
        return decode_bytes(data, charset or None)
    return email.utils.unquote(str(value)) if value else ""


def _part_filename(part: EmailMessage) -> str:
    """The file name, from Content-Disposition or Content-Type; RFC 2231 (continuations, charset) and
    RFC 2047 both handled, with the same charset repairs as the body. Never raises."""
    for param, header in (("filename", "content-disposition"), ("name", "content-type")):
        try:
            name = _param_text(part.get_param(param, header=header))
        except SoftTimeLimitExceeded:
            raise
        except Exception:
            name = ""
        name = decode_header_value(name, keep_spaces=True)
        if name:
            return name
    for header in ("content-disposition", "content-type"):
        # A header Python's parameter parser cannot split (garbage around the type, a stray quote before the
        # first parameter) may still hold a readable quoted name: the last one, as a client that reads the
        # parameters from left to right keeps it.
        value = part.get(header)
        found = _QUOTED_NAME.findall(value[:4000]) if isinstance(value, str) and "name" in value else []
        name = decode_header_value(found[-1], keep_spaces=True) if found else ""
        if name:
            return name
    return ""


_QUOTED_NAME = re.compile(r'(?<![\w*])(?:file)?name\s*=\s*"([^"\\\r\n]{1,255})"', re.I)
# A content type as RFC 2045 writes it: two tokens around a slash.
_CONTENT_TYPE = re.compile(r"[a-z0-9!#$&^_.+-]{1,127}/[a-z0-9!#$&^_.+-]{1,127}")


def _content_type(msg: EmailMessage) -> str:
    """The part's type, lower case; a type wrapped in garbage (percent-encoded or stray quotes around
    "application/pdf") read through it, and one that cannot be read a file (application/octet-stream:
    kept as an attachment, never shown as text)."""
    ctype = (msg.get_content_type() or "text/plain").lower()
    if _CONTENT_TYPE.fullmatch(ctype):
        return ctype
    cleaned = re.sub(r"%22|%27|[\"'\\\s]", "", ctype)
    return cleaned if _CONTENT_TYPE.fullmatch(cleaned) else "application/octet-stream"


def _payload_bytes(part: EmailMessage) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except SoftTimeLimitExceeded:
        raise
    except Exception:
        data = None
    if data is None:
        payload = part.get_payload()
        if isinstance(payload, str):
            data = payload.encode("utf-8", "surrogateescape")
        else:
            data = b""
    return data


def _walk(msg: EmailMessage, parsed: ParsedEmail, depth: int = 0) -> None:
    if depth > 30:
        parsed.problems.append("multipart nesting too deep")
        return
    ctype = _content_type(msg)
    if ctype in ("message/rfc822", "message/global"):
        # A forwarded message: kept whole as an .eml attachment, not mixed into the body
        # (compat32 says a message/rfc822 part "is multipart", so this test comes first).
        payload = msg.get_payload()
        try:
            if isinstance(payload, list) and payload:
                data = payload[0].as_bytes()
            else:
                data = _payload_bytes(msg)
        except SoftTimeLimitExceeded:
            raise
        except Exception:
            data = _payload_bytes(msg)
        filename = _part_filename(msg) or _forwarded_name(payload[0] if isinstance(payload, list) and payload else None)
        parsed.attachments.append(ParsedAttachment(filename, "message/rfc822", data))
        return
    if msg.is_multipart():
        payload = msg.get_payload()
        if not isinstance(payload, list):
            parsed.problems.append("broken multipart")
            return
        for sub in payload:  # alternative: text and html twins both kept
            try:
                _walk(sub, parsed, depth + 1)
            except SoftTimeLimitExceeded:
                raise
            except Exception as exc:  # one broken part does not lose the others, nor itself: kept raw
                parsed.problems.append(f"part: {type(exc).__name__}: {exc}")
                _keep_raw(sub, parsed)
        return
    disposition = (msg.get_content_disposition() or "").lower()
    filename = _part_filename(msg)
    if ctype.startswith("multipart/"):
        # Declared multipart but no usable boundary: the parser leaves the body as one string; read it as text.
        ctype = "text/plain"
    is_tnef = ctype in ("application/ms-tnef", "application/vnd.ms-tnef") or filename.lower() == "winmail.dat"
    if is_tnef and _unpack_tnef(_payload_bytes(msg), parsed):
        return
    if ctype == "text/plain" and disposition != "attachment" and filename and not parsed.text:
        # A named text part not marked as an attachment ("inline; filename=msg.txt", or only
        # "Content-Type: text/plain; name=msg.txt"): a mail client
        # shows it in the body and lists it among the files; so do we.
        parsed.text = decode_bytes(_text_payload(msg, parsed), msg.get_content_charset())
    is_body_text = ctype in ("text/plain", "text/html") and disposition != "attachment" and not filename
    if ctype == "text/html" and disposition != "attachment" and filename and not parsed.html and not parsed.text:
        # A named HTML part not marked as an attachment, before any body ("inline; filename=test.html"): a mail
        # client shows it as the message (the raw message keeps the file).
        is_body_text = True
    if is_body_text and _not_base64(msg):
        parsed.problems.append("text declared base64 is not base64")
        parsed.undecoded_text.append(decode_bytes(_as_bytes(msg.get_payload()), msg.get_content_charset()))
        return
    if is_body_text:
        text = decode_bytes(_text_payload(msg, parsed), msg.get_content_charset())
        if ctype == "text/plain" and "begin " in text:
            text = _extract_uuencoded(text, parsed)
        if ctype == "text/html":
            if not parsed.html:
                parsed.html = text
            else:
                parsed.html += "\n" + text
        else:
            parsed.text = f"{parsed.text}\n{text}" if parsed.text else text
        return
    data = _payload_bytes(msg)
    if _cut_short(msg):  # decoded as far as it goes; the note on the ticket says the file may be incomplete
        data = _lenient_base64(data)
        parsed.truncated.append(filename or _default_name(ctype))
    content_id = normalize_message_id(decode_header_value(msg.get("content-id")))
    parsed.attachments.append(
        ParsedAttachment(
            filename=filename or _default_name(ctype),
            content_type=ctype,
            data=data,
            inline=disposition == "inline" or bool(content_id and not filename),
            content_id=content_id,
        )
    )


def _cut_short(part: EmailMessage) -> bool:
    """Base64 cut short (a truncated message): Python's decoder hands back the encoded text (after
    ``_payload_bytes``, which records the defect)."""
    return any(isinstance(d, InvalidBase64LengthDefect) for d in part.defects)


def _not_base64(part: EmailMessage) -> bool:
    """Declared base64 but plainly not: written text, whose lines hold spaces between words (most of them) or
    whose characters are outside the alphabet for one in ten or more (punctuation). A real base64 line holds
    no space; a few stray characters (a junk line after a cut) are decoded leniently as before."""
    if (part.get("content-transfer-encoding") or "").strip().lower() != "base64":
        return False
    payload = part.get_payload()
    if not isinstance(payload, str):
        return False
    lines = [line.strip() for line in payload[:65536].splitlines() if line.strip()]
    inside = "".join(lines)
    if len(inside) < 8:
        return False
    spaced = sum(1 for line in lines if " " in line or "\t" in line)
    foreign = len(inside.translate(_DROP_BASE64_CHARS))  # in C, not a Python loop over up to 64 KB
    return spaced * 2 >= len(lines) or foreign * 10 >= len(inside)


def _text_payload(msg: EmailMessage, parsed: ParsedEmail) -> bytes:
    """A text part's bytes; base64 cut short decoded as far as it goes, as for a file (not shown encoded)."""
    data = _payload_bytes(msg)
    if _cut_short(msg):
        data = _lenient_base64(data)
        parsed.problems.append("text in base64 cut short")
    return data


def _keep_raw(part: EmailMessage, parsed: ParsedEmail) -> None:
    """A part that could not be read: kept as received, as an attachment, named in ``unreadable``."""
    try:
        data = part.as_bytes()
    except SoftTimeLimitExceeded:
        raise
    except Exception:  # noqa: BLE001 - serializing fails too: the payload as it was read
        payload = getattr(part, "_payload", None)
        data = _as_bytes(payload) if isinstance(payload, str) else payload if isinstance(payload, bytes) else b""
    _keep_raw_bytes(data, parsed)


def _keep_raw_bytes(data: bytes, parsed: ParsedEmail) -> None:
    name = f"partie-illisible-{len(parsed.unreadable) + 1}.eml"  # a MIME entity: any mail client opens it
    parsed.attachments.append(ParsedAttachment(name, "message/rfc822", data))
    parsed.unreadable.append(name)


def _forwarded_name(inner: EmailMessage | None) -> str:
    """An attached message without a file name is listed as mail clients list it: "<its subject>.eml"."""
    subject = decode_header_value(inner.get("subject"), keep_spaces=True) if inner is not None else ""
    return f"{subject[:150]}.eml" if subject else "message.eml"


# uuencoded files in a plain-text body (old mailers, some scanners): "begin 644 name" ... "end".
_UU_BEGIN = re.compile(r"^begin(?:-base64)? [0-7]{3,4} (\S[^\r\n]{0,250})$")


def _extract_uuencoded(text: str, parsed: ParsedEmail) -> str:
    """Take every uuencoded block out of the text as an attachment; the text is returned without them.
    Line by line, no regex over the block: linear in the text's length."""
    lines = text.split("\n")
    kept: list[str] = []
    i = 0
    while i < len(lines):
        m = _UU_BEGIN.match(lines[i].rstrip("\r"))
        if not m:
            kept.append(lines[i])
            i += 1
            continue
        data, j, ok = bytearray(), i + 1, False
        while j < len(lines):
            line = lines[j].rstrip("\r")
            if line.strip() in ("end", "===="):
                ok = True
                break
            if line and line != "`":
                try:
                    data += binascii.a2b_uu(line)
                except binascii.Error:
                    try:  # some encoders pad badly: the length byte says how much is real
                        nbytes = (((ord(line[0]) - 32) & 63) * 4 + 5) // 3
                        data += binascii.a2b_uu(line[:nbytes])
                    except (binascii.Error, IndexError):
                        break
            j += 1
        if not ok or not data:
            kept.append(lines[i])
            i += 1
            continue
        parsed.attachments.append(ParsedAttachment(m.group(1).strip(), _guess_type(m.group(1)), bytes(data)))
        i = j + 1
    return "\n".join(kept)


def _guess_type(filename: str) -> str:
    return mimetypes.guess_type(filename)[0] or "application/octet-stream"


def _unpack_tnef(data: bytes, parsed: ParsedEmail) -> bool:
    """Outlook's winmail.dat (TNEF), unpacked with tnefparse: its files become attachments and its text
    the body when the message has none. False when it cannot be read (then it is kept as it is)."""
    try:
        tnef = TNEF(data)
    except SoftTimeLimitExceeded:
        raise
    except Exception:  # noqa: BLE001 - any unreadable TNEF is kept whole
        return False
    found = False
    for att in getattr(tnef, "attachments", []) or []:
        try:
            name = att.long_filename() or att.name
            payload = att.data
        except SoftTimeLimitExceeded:
            raise
        except Exception:  # noqa: BLE001
            continue
        if isinstance(name, bytes):
            name = decode_bytes(name, None)
        name = _clean_header(str(name or "")).strip("\x00") or "piece-jointe.bin"
        parsed.attachments.append(ParsedAttachment(name, _guess_type(name), bytes(payload or b"")))
        found = True
    body = getattr(tnef, "body", None) or b""
    if body and not parsed.text:
        parsed.text = decode_bytes(body if isinstance(body, bytes) else str(body).encode(), None)
        found = True
    html = getattr(tnef, "htmlbody", None) or b""
    if html and not parsed.html:
        parsed.html = decode_bytes(html if isinstance(html, bytes) else str(html).encode(), None)
        found = True
    return found


def _default_name(ctype: str) -> str:
    ext = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "application/pdf": "pdf",
           "text/calendar": "ics", "text/plain": "txt"}.get(ctype, "bin")
    return f"piece-jointe.{ext}"


# A header line ("Name: value") as it starts a message's header block.
_HEADER_LINE = re.compile(rb"^[!-9;-~]{1,76}:")
_KNOWN_HEADERS = ("from", "subject", "date", "to", "message-id", "received", "return-path", "mime-version")


def _headers_after_stray_lines(raw: bytes) -> bytes | None:
    """A message whose header block starts after a stray first line or two (a forwarded "---- Original
    email message ----", a blank line, a log prefix): the bytes from the first header line on, or None
    when the message does not look like that."""
    lines = raw[:8192].split(b"\n", 12)[:12]
    offset = 0
    for i, line in enumerate(lines[:-1]):
        if i and _HEADER_LINE.match(line) and line.split(b":", 1)[0].strip().lower().decode("latin-1") in (
            *_KNOWN_HEADERS, "sender", "reply-to", "cc", "delivered-to", "x-mailer", "content-type"
        ):
            return raw[offset:]
        offset += len(line) + 1
    return None


def _read(raw: bytes) -> EmailMessage:
    msg = email.message_from_bytes(raw, policy=RAW_POLICY)
    if not any(msg.get(h) for h in _KNOWN_HEADERS):
        rest = _headers_after_stray_lines(raw)
        if rest is not None:
            again = email.message_from_bytes(rest, policy=RAW_POLICY)
            if any(again.get(h) for h in ("from", "subject", "sender", "reply-to")):
                return again
    return msg


# --- lenient MIME structure: what a mail client still reads where Python's parser gives up ------------------

# Bounds on the repairs: parts recovered per message, and the nesting they are looked for in.
_MAX_RECOVERED_PARTS = 200
_MAX_RECOVERY_DEPTH = 30


@dataclass
class _Recovery:
    parts: int = 0
    leftovers: list[bytes] = field(default_factory=list)  # bytes that look like MIME parts but could not be split
    repaired: list[str] = field(default_factory=list)  # what was repaired (for the inbound log's reason)


def _as_bytes(text: str | None) -> bytes:
    """A preamble, epilogue or string payload back to the bytes it was read from (the bytes parser reads
    them as ASCII with surrogate escapes)."""
    if not text:
        return b""
    try:
        return text.encode("ascii", "surrogateescape")
    except UnicodeEncodeError:  # a payload set as text by a repair: UTF-8 is what we wrote
        return text.encode("utf-8", "surrogateescape")


def _lenient_base64(data: bytes) -> bytes:
    """Base64 as a mail client decodes it: characters outside the alphabet skipped, padding added, a last
    lone character (a cut line) dropped. Never raises."""
    data = data.translate(None, _NOT_BASE64).rstrip(b"=")
    if len(data) % 4 == 1:
        data = data[:-1]
    try:
        return binascii.a2b_base64(data + b"=" * (-len(data) % 4))
    except binascii.Error:  # pragma: no cover - the input is cleaned above
        return b""


_BASE64_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
_BASE64_ALPHABET = frozenset(_BASE64_CHARS.encode())
_DROP_BASE64_CHARS = str.maketrans("", "", _BASE64_CHARS)  # str.translate: what is left is outside the alphabet
_NOT_BASE64 = bytes(ch for ch in range(256) if ch not in _BASE64_ALPHABET)  # bytes.translate deletes them


def _split_delimited(data: bytes, boundary: bytes) -> tuple[bytes, list[bytes], bytes] | None:
    """``data`` cut at its delimiter lines ("--boundary", trailing blanks allowed, RFC 2046 5.1.1):
    (the bytes before the first delimiter, the parts, the bytes after the last close delimiter), or None
    when it holds no delimiter line. Lines between a close delimiter and the next delimiter line are
    dropped (the epilogue of a part that closed early). Line by line, no regular expression."""
    delimiter = b"--" + boundary
    if delimiter not in data:
        return None
    before: list[bytes] = []
    after: list[bytes] = []
    parts: list[list[bytes]] = []
    current: list[bytes] | None = None
    for line in data.splitlines(keepends=True):
        bare = line.rstrip(b" \t\r\n")
        if bare == delimiter:
            if current is not None:
                parts.append(current)
            current = []
            after = []
        elif bare == delimiter + b"--":
            if current is not None:
                parts.append(current)
            current = None
        elif current is not None:
            current.append(line)
        elif parts:
            after.append(line)
        else:
            before.append(line)
    if current is not None:  # no close delimiter: the part runs to the end (as Python's parser reads it)
        parts.append(current)
    if not parts:
        return None
    chunks = []
    for lines in parts:
        chunk = b"".join(lines)
        # The line break before a delimiter belongs to the delimiter.
        chunk = chunk[:-2] if chunk.endswith(b"\r\n") else chunk[:-1] if chunk.endswith((b"\n", b"\r")) else chunk
        chunks.append(chunk)
    return b"".join(before), chunks, b"".join(after)


def _looks_like_part(data: bytes) -> bool:
    """Bytes that hold a MIME part's header (a "Content-...:" line at the start of a line)."""
    lowered = data[:65536].lower()
    return lowered.startswith(b"content-") or b"\ncontent-" in lowered or b"\rcontent-" in lowered


def _guess_boundary(data: bytes) -> bytes | None:
    """The boundary a multipart body actually uses when the declared one never appears (a mangled or
    missing parameter): the first "--token" line followed by a MIME header line, as a mail client finds it."""
    lines = data[:262144].splitlines()
    for i, line in enumerate(lines[:-1]):
        token = line.rstrip(b" \t")[2:]
        if (line.startswith(b"--") and 0 < len(token) <= 200 and not token.endswith(b"--")
                and not any(ch in b" \t" for ch in token) and lines[i + 1].lower().startswith(b"content-")):
            return token
    return None


def _parts_from(chunks: list[bytes], recovery: _Recovery, boundary: bytes) -> list[EmailMessage]:
    """The recovered parts, up to ``_MAX_RECOVERED_PARTS`` per message; the rest gathered, as sent, into one
    multipart entity kept in ``recovery.leftovers`` (one attachment a mail client opens, not one per part)."""
    room = max(0, _MAX_RECOVERED_PARTS - recovery.parts)
    recovery.parts += min(room, len(chunks))
    rest = chunks[room:]
    if rest:
        delimiter = b"--" + boundary
        recovery.leftovers.append(
            b'Content-Type: multipart/mixed; boundary="' + boundary + b'"\n\n' + delimiter + b"\n"
            + (b"\n" + delimiter + b"\n").join(rest) + b"\n" + delimiter + b"--\n"
        )
    return [email.message_from_bytes(chunk, policy=RAW_POLICY) for chunk in chunks[:room]]


def _recover_structure(msg: EmailMessage, recovery: _Recovery, depth: int = 0) -> None:
    """Repair, in place, the broken structures real mailers send and mail clients still read:

    - a nested multipart that reuses its parent's boundary closes the parent with its own "--B--": the
      parts the parent still had ("--B" lines after it) land in the epilogue, where no one looks. They
      are split off the epilogue and appended, in order (Thunderbird reads the same lines as parts);
    - a multipart whose declared boundary never appears (a mangled or missing parameter): the body's own
      delimiter, a "--token" line followed by a "Content-..." header, is taken as the boundary;
    - an attached message sent in base64 or quoted-printable (not allowed by RFC 2046, common all the
      same): decoded, then read as a message.

    Well-formed mail is left as it is: each repair starts only from a defect the parser left behind.
    Epilogue bytes that look like a part but cannot be split are kept in ``recovery.leftovers``."""
    if depth > _MAX_RECOVERY_DEPTH:
        return
    ctype = (msg.get_content_type() or "").lower()
    payload = msg.get_payload()
    if ctype in ("message/rfc822", "message/global"):
        cte = str(msg.get("content-transfer-encoding") or "").strip().lower()
        if cte in ("base64", "quoted-printable") and isinstance(payload, list) and payload:
            encoded = payload[0].as_bytes()
            decoded = _lenient_base64(encoded) if cte == "base64" else quopri.decodestring(encoded)
            msg.set_payload([email.message_from_bytes(decoded, policy=RAW_POLICY)])
            del msg["content-transfer-encoding"]
            recovery.repaired.append(f"attached message in {cte}")
            payload = msg.get_payload()
        if isinstance(payload, list):
            for inner in payload:
                _recover_structure(inner, recovery, depth + 1)
        return
    if not ctype.startswith("multipart/"):
        return
    if not isinstance(payload, list):
        # Declared multipart, but its boundary was not found: find the one the body uses. The payload as read
        # (``get_payload()`` would turn its 8-bit bytes into U+FFFD).
        raw_payload = getattr(msg, "_payload", None)
        body = _as_bytes(raw_payload) if isinstance(raw_payload, str) else b""
        guessed = _guess_boundary(body) if body else None
        split = _split_delimited(body, guessed) if guessed else None
        if split is None:
            return
        before, chunks, after = split
        msg.set_payload(_parts_from(chunks, recovery, guessed))
        msg.preamble = before.decode("ascii", "surrogateescape") or None
        msg.epilogue = after.decode("ascii", "surrogateescape") or None
        with contextlib.suppress(Exception):  # the header stays as sent; the parts are read all the same
            msg.set_boundary(guessed.decode("ascii", "replace"))
        recovery.repaired.append("multipart boundary found in the body")
    elif msg.epilogue and msg.epilogue.strip() and (boundary := msg.get_boundary()):
        # (the boundary read only then: parsing the parameters again costs every well-formed message)
        epilogue = _as_bytes(msg.epilogue)
        delimited = boundary.encode("ascii", "surrogateescape")
        split = _split_delimited(epilogue, delimited)
        if split is not None:
            before, chunks, after = split
            for part in _parts_from(chunks, recovery, delimited):
                msg.attach(part)
            msg.epilogue = (before + after).decode("ascii", "surrogateescape") or None
            recovery.repaired.append("parts after an early close delimiter")
    for sub in msg.get_payload() if isinstance(msg.get_payload(), list) else []:
        _recover_structure(sub, recovery, depth + 1)
    if msg.epilogue and msg.epilogue.strip() and _looks_like_part(_as_bytes(msg.epilogue)):
        # Something that is not the usual trailing blank line or notice: kept, never silently dropped.
        recovery.leftovers.append(_as_bytes(msg.epilogue))
        msg.epilogue = None


# Where the sender's address is read when From has none a reader could use, in this order.
SENDER_HEADERS = ("from", "reply-to", "sender", "return-path")


def parse_email(raw: bytes) -> ParsedEmail:
    parsed = ParsedEmail()
    try:
        msg = _read(raw)
    except SoftTimeLimitExceeded:
        raise
    except Exception as exc:  # pragma: no cover - compat32 parser is very tolerant
        parsed.problems.append(f"unparseable message: {exc}")
        return parsed
    if msg.defects:
        parsed.problems += [type(d).__name__ for d in msg.defects][:10]
    recovery = _Recovery()
    try:
        _recover_structure(msg, recovery)
    except SoftTimeLimitExceeded:
        raise
    except Exception as exc:  # noqa: BLE001 - the structure as Python read it is walked all the same
        parsed.problems.append(f"structure: {type(exc).__name__}: {exc}")
    parsed.problems += recovery.repaired[:5]

    parsed.message_id = normalize_message_id(decode_header_value(msg.get("message-id")))
    # Not _clean_header: a long References header must not be cut (its end holds the nearest ancestors).
    parsed.in_reply_to = message_ids(_no_surrogates(str(msg.get("in-reply-to", "") or "")).replace("\x00", ""))
    parsed.references = message_ids(_no_surrogates(str(msg.get("references", "") or "")).replace("\x00", ""))
    parsed.subject = decode_header_value(msg.get("subject"))[:255]
    for header in SENDER_HEADERS:  # From, then Reply-To, Sender, Return-Path (a null "<>" gives nothing)
        pairs = addresses(msg.get_all(header) or [])
        if pairs:
            parsed.from_name, parsed.from_email = pairs[0]
            parsed.sender_header = header
            break
    if parsed.sender_header != "from":
        # No address in From, but maybe a name a reader sees ("Postmaster <>", "Claire").
        name = decode_header_value(msg.get("from") or "").strip(" <>\"'")
        parsed.from_name = parsed.from_name or (name if "@" not in name else "")
    reply_to = addresses(msg.get_all("reply-to") or [])
    parsed.reply_to = reply_to[0][1] if reply_to else ""
    parsed.to = [a for _, a in addresses(msg.get_all("to") or [])]
    parsed.cc = [a for _, a in addresses(msg.get_all("cc") or [])]
    date = msg.get("date")
    if date:
        try:
            parsed.date = parsedate_to_datetime(str(date))
            if parsed.date is not None and parsed.date.tzinfo is None:
                parsed.date = None
        except SoftTimeLimitExceeded:
            raise
        except Exception:
            parsed.problems.append("bad Date header")
    try:
        _walk(msg, parsed)
    except SoftTimeLimitExceeded:
        raise
    except Exception as exc:
        parsed.problems.append(f"body: {type(exc).__name__}: {exc}")
        _keep_raw(msg, parsed)
    for leftover in recovery.leftovers:
        _keep_raw_bytes(leftover, parsed)
    if parsed.undecoded_text and not parsed.text.strip() and not parsed.html.strip():
        parsed.text = "\n".join(parsed.undecoded_text)  # no other text: the words as they came
    parsed.text = parsed.text.replace("\r\n", "\n").replace("\x00", "")
    parsed.html = parsed.html.replace("\x00", "")
    try:
        parsed.auto_reason = detect_automatic(msg, parsed.from_email)
    except SoftTimeLimitExceeded:
        raise
    except Exception as exc:
        parsed.problems.append(f"headers: {type(exc).__name__}: {exc}")
    try:
        parsed.bounce = detect_bounce(msg, parsed, raw=raw)
    except SoftTimeLimitExceeded:
        raise
    except Exception as exc:  # noqa: BLE001 - a report we cannot read is an automatic message all the same
        parsed.problems.append(f"bounce: {type(exc).__name__}: {exc}")
    if parsed.bounce is not None and not parsed.auto_reason:
        parsed.auto_reason = "delivery report"
    return parsed


# --- delivery reports -----------------------------------------------------------------------------------

# Subjects of the usual non-standard bounces (substrings, lower case: no regex over untrusted text).
_BOUNCE_SUBJECTS = (
    "undeliver", "delivery status", "delivery failure", "delivery notification", "delivery report",
    "delivery has failed", "returned mail", "mail delivery", "failure notice", "could not be delivered",
    "not delivered", "not be delivered", "rejected", "failed mail", "mail system error", "message delayed",
    "not yet been delivered", "delivery failed", "non remis", "non distribu", "échec de la remise",
    "unzustellbar", "nicht zustellbar", "banned file", "returned - error", "user unknown", "no such user",
)


# What a report says in its own words, near its top (substrings, lower case): MTAs (Postfix, Exim, Sendmail,
# qmail, Exchange, Domino, GroupWise), virus scanners and gateways that write no RFC 3464 report.
_BOUNCE_PHRASES = (
    "could not be delivered", "couldn't be delivered", "was not delivered", "wasn't delivered",
    "has not been delivered", "not yet been delivered", "undeliverable", "delivery has failed", "delivery failed",
    "delivery to the following recipient", "did not reach", "permanent error", "permanent fatal error",
    "unable to deliver", "wasn't able to deliver", "was not able to deliver", "could not deliver",
    "couldn't deliver", "not able to deliver", "user unknown", "unknown user", "no such user", "mailbox unavailable",
    "mailbox not found", "recipient address rejected", "address rejected", "returned to sender",
    "exceeded maximum delivery attempts", "message delayed", "delivery is delayed", "delivery delayed",
    "failed permanently", "delivery attempts will continue", "not listed in domino directory",
    "non remis", "n'a pas pu être remis", "n'a pas pu être distribué", "impossible de remettre",
    "échec de la remise", "nicht zugestellt", "unzustellbar", "konnte nicht zugestellt",
)
# How a report announces the copy of the message it returns, inline (qmail, Exim, Sendmail, Domino).
_RETURNED_MARKERS = (
    "original message follows", "copy of the message", "copy of your message", "returned message",
    "message headers follow", "original message headers", "unsent message below", "below this line is a copy",
    "headers of the original message", "text of the original message", "original message was received",
)
# A subject a person writes when forwarding or answering: a report they pass on is their message.
_PERSON_PREFIXES = ("re:", "re :", "fw:", "fwd:", "tr:", "tr :", "aw:", "wg:", "sv:", "vs:", "rv:", "enc:", "réf:")
# Display names and mailbox names of the programs that write reports.
_DAEMON_NAMES = ("mail delivery system", "mail delivery subsystem", "mail delivery service", "mail administrator",
                 "mailer-daemon", "mailer daemon", "postmaster", "mail system", "internet mail delivery")
_DAEMON_LOCALS = ("mdaemon", "mailadm", "mail-daemon", "maildaemon", "mail.daemon", "postoffice", "mailerdaemon")
_RETURNED_TYPES = ("message/rfc822", "message/global", "text/rfc822-headers", "message/rfc822-headers",
                   "message/global-headers")
_STATUS_TYPES = ("message/delivery-status", "message/global-delivery-status")
# flufl.bounce's heuristics are regular expressions, and a few of them are quadratic on a long line (its
# Exchange detector, ``[^\s@]+@[^\s@]+ on `` searched in 8,000 "<" took 0.35 s; in 128 KB it would take
# minutes). It reads a copy of the report in which every line, encoded or not, is cut to a length no report
# line reaches: the work is at most (size x line length), whatever a sender puts in a message.
_BOUNCE_SCAN_LIMIT = 128 * 1024
_BOUNCE_SCAN_LINE = 256
_BOUNCE_HEAD = 4096  # the report's own words: the top of its text
logging.getLogger("flufl.bounce").setLevel(logging.WARNING)  # it logs every detector it runs at INFO


def _bounce_sender(msg: EmailMessage, parsed: ParsedEmail) -> bool:
    """Written by a mail system (``_mail_system``), or by an address that sends nothing else (no-reply,
    bounces)."""
    from_email = parsed.from_email
    if from_email and AUTO_SENDERS.match(from_email):
        return True
    return _mail_system(msg, parsed)


def _mail_system(msg: EmailMessage, parsed: ParsedEmail) -> bool:
    """Written by a mail system: MAILER-DAEMON, postmaster, Exchange's own mailbox, a null Return-Path (not
    a no-reply address: an order confirmation comes from one)."""
    from_email = parsed.from_email
    local = from_email.partition("@")[0]
    if local.startswith(("mailer-daemon", "postmaster")):
        return True
    if local in _DAEMON_LOCALS or local.startswith("microsoftexchange"):
        return True
    if parsed.from_name.strip().lower() in _DAEMON_NAMES:
        return True
    return_path = decode_header_value(msg.get("return-path") or "")
    return msg.get("return-path") is not None and return_path.strip("<> ") == ""


def _own_parts(msg: EmailMessage, depth: int = 0):
    """(content type, part) of the message's parts, not those of the messages it carries (a report forwarded
    as an attachment is not this message's report)."""
    ctype = (msg.get_content_type() or "").lower()
    yield ctype, msg
    payload = msg.get_payload()
    if depth < 30 and ctype.startswith("multipart/") and isinstance(payload, list):
        for sub in payload:
            yield from _own_parts(sub, depth + 1)


def detect_bounce(msg: EmailMessage, parsed: ParsedEmail, *, raw: bytes) -> Bounce | None:
    """A delivery report, standard or not. One of:

    - an RFC 3464 report (``message/delivery-status``), or a ``X-Failed-Recipients`` header (Exim);
    - written by a mail system (MAILER-DAEMON, postmaster, Exchange, a null sender) and saying so: a failure
      subject or phrase, a returned message, or recipients that flufl.bounce finds failed;
    - from any address (virus scanners, gateways, Domino), a failure subject or phrase with either the
      recipients flufl.bounce finds, or the returned message itself, sent back to the address that sent it.

    None for anything else: a customer writing "could not be delivered" about a parcel is a customer, and so is
    one who forwards a report ("Fwd: Undeliverable"), or attaches a carrier's email (not their own message
    coming back to them)."""
    ctype = (msg.get_content_type() or "").lower()
    report_type = str(msg.get_param("report-type") or "").lower() if ctype == "multipart/report" else ""
    bounce = Bounce()
    status_blocks = []
    returned = []  # the headers of the message(s) the report returns
    for part_type, part in _own_parts(msg) if msg.is_multipart() else ():
        if part_type in _STATUS_TYPES:
            status_blocks.append(part)
        elif part_type in _RETURNED_TYPES:
            inner = _returned_headers(part)
            if inner is not None:
                returned.append(inner)
    failed_header = [a for _n, a in addresses(msg.get_all("x-failed-recipients") or [])]
    is_dsn = bool(status_blocks) or (ctype == "multipart/report" and report_type == "delivery-status")
    subject = parsed.subject.lower().strip()
    daemon = _bounce_sender(msg, parsed)
    says = any(word in subject for word in _BOUNCE_SUBJECTS)
    if not says and (daemon or returned or is_dsn or failed_header):  # the text read only then: a person's
        # mail costs no scan. Exchange and some gateways write HTML only: its sentences read the same in markup.
        head = (parsed.text[:_BOUNCE_HEAD] if parsed.text.strip() else parsed.html[: 4 * _BOUNCE_HEAD]).lower()
        says = any(p in head for p in _BOUNCE_PHRASES)
    # A mail system's report in words none of the lists above knows (a language, an old MTA's format) is a
    # report when flufl.bounce reads failed recipients in it (below); not a no-reply sender's mail.
    silent_system = not (is_dsn or failed_header or says) and daemon and _mail_system(msg, parsed)
    if not (is_dsn or failed_header or says or silent_system):
        return None
    if not (is_dsn or failed_header or daemon) and subject.startswith(_PERSON_PREFIXES):
        return None
    for block in status_blocks:
        _read_status(block, bounce)
    for address in failed_header:
        if address not in bounce.recipients:
            bounce.recipients.append(address[:320])
    if not bounce.recipients and len(raw) <= _BOUNCE_SCAN_LIMIT:
        temporary, permanent = all_failures(_bounded_copy(raw))
        found = [*permanent, *temporary]
        bounce.recipients = [a.decode("utf-8", "replace").lower() if isinstance(a, bytes) else str(a).lower()
                             for a in found][:20]
        bounce.temporary = bool(temporary) and not permanent
    if silent_system and not bounce.recipients:
        return None
    inline_copy = any(marker in parsed.text[:65536].lower() for marker in _RETURNED_MARKERS)
    if not (is_dsn or failed_header or bounce.recipients
            or daemon and (returned or inline_copy or says)
            or says and _returned_to_sender(msg, returned)):
        return None
    for inner in returned:
        bounce.original_ids += [i for i in (normalize_message_id(decode_header_value(inner.get("message-id"))),) if i]
    if not bounce.original_ids and inline_copy:
        bounce.original_ids = _inline_message_ids(parsed.text)
    if not bounce.reason:
        bounce.reason = _reason_line(parsed.text) or parsed.subject
    bounce.original_ids = list(dict.fromkeys(bounce.original_ids))[:20]
    return bounce


def _cut_lines(data: bytes) -> bytes:
    return b"\n".join(line[:_BOUNCE_SCAN_LINE] for line in data.splitlines())


def _bounded_copy(raw: bytes) -> EmailMessage:
    """The report as flufl.bounce reads it: lines cut to ``_BOUNCE_SCAN_LINE``, base64 and quoted-printable
    parts decoded first (their decoded lines may be long) and cut the same way."""
    copy = email.message_from_bytes(_cut_lines(raw[:_BOUNCE_SCAN_LIMIT]), policy=RAW_POLICY)
    _recover_structure(copy, _Recovery())
    for part in copy.walk():  # every leaf: parts decoded by the recovery (an attached message) come uncut
        if part.is_multipart():
            continue
        data = _cut_lines(_payload_bytes(part))
        if part.get("content-transfer-encoding") is not None:
            del part["content-transfer-encoding"]
        part.set_payload(data.decode("ascii", "surrogateescape"))
    return copy


def _returned_headers(part: EmailMessage) -> EmailMessage | None:
    """The headers of the message a report returns, whole (``message/rfc822``) or headers only."""
    payload = part.get_payload()
    if isinstance(payload, list) and payload:
        return payload[0]
    try:
        return email.message_from_bytes(_payload_bytes(part)[:65536], policy=RAW_POLICY)
    except SoftTimeLimitExceeded:
        raise
    except Exception:  # noqa: BLE001
        return None


def _returned_to_sender(msg: EmailMessage, returned: list[EmailMessage]) -> bool:
    """A returned message that comes back to the one who sent it: its From, Sender or Return-Path is one of
    the report's recipients. A message someone else wrote, attached by a customer, is not."""
    if not returned:
        return False
    headers = ("to", "cc", "delivered-to", "x-original-to")
    recipients = {a for _n, a in addresses([v for h in headers for v in msg.get_all(h) or []])}
    for inner in returned[:5]:
        senders = addresses([*(inner.get_all("from") or []), *(inner.get_all("sender") or []),
                             *(inner.get_all("return-path") or [])])
        if any(a in recipients for _n, a in senders):
            return True
    return False


def _inline_message_ids(text: str) -> list[str]:
    """The Message-ID of a message a report copies inline, below its notice (qmail, Exim, Sendmail)."""
    ids = []
    for line in text[:65536].splitlines():
        stripped = line.strip()
        if stripped[:11].lower() == "message-id:":
            mid = normalize_message_id(stripped[11:])
            if mid:
                ids.append(mid)
    return ids[:20]


def _reason_line(text: str) -> str:
    """The line of the report that says what failed, else its first words."""
    for line in (text or "")[:_BOUNCE_HEAD].splitlines():
        lowered = line.lower()
        if any(p in lowered for p in _BOUNCE_PHRASES) or lowered.lstrip().startswith(("reason:", "raison :")):
            line = " ".join(line.split()).strip("*- ")
            if len(line) > 10:
                return line[:300]
    return _first_words(text)


def _read_status(block: EmailMessage, bounce: Bounce) -> None:
    """RFC 3464 per-recipient fields: Final-Recipient (or Original-Recipient), Action, Status,
    Diagnostic-Code. compat32 gives the blocks as sub-messages, or the whole as text."""
    payload = block.get_payload()
    groups = payload if isinstance(payload, list) else [email.message_from_string(
        "\n\n".join(str(payload or "").split("\n\n")[1:]) or "", policy=RAW_POLICY)]
    failed = delayed = 0
    for group in groups:
        recipient = str(group.get("final-recipient") or group.get("original-recipient") or "")
        action = str(group.get("action") or "").strip().lower()
        if not recipient or action in ("delivered", "relayed", "expanded"):
            continue
        address = recipient.split(";", 1)[-1].strip().strip("<>").lower()
        if "@" in address and address not in bounce.recipients:
            bounce.recipients.append(address[:320])
        failed += action == "failed"
        delayed += action == "delayed"
        if not bounce.reason:
            diagnostic = decode_header_value(group.get("diagnostic-code") or "").split(";", 1)[-1].strip()
            status = str(group.get("status") or "").strip()
            bounce.reason = " ".join(x for x in (status, diagnostic) if x)[:500]
    bounce.temporary = bool(delayed) and not failed


def _first_words(text: str) -> str:
    for line in (text or "").splitlines():
        line = " ".join(line.split())
        if len(line) > 15 and not line.startswith(("--", ">")):
            return line[:300]
    return ""


# --- quoted history and signatures --------------------------------------------------------------------

# A one-line attribution: "Le ... a écrit :", "On ... wrote:", "-----Original Message-----".
_ATTRIBUTION = re.compile(
    r"^\s*(?:Le .{5,200}a\s+écrit\s*:|On .{5,200}wrote\s*:|"
    r"-{3,}\s*(?:Original Message|Message d'origine)\s*-{3,})\s*$",
    re.I,
)
# An Outlook header block: "De : / From:" followed by "Envoyé : / Sent: / À : / Objet : ..." lines.
# "De : mon côté, tout va bien." alone is the customer's own sentence, not quoted history.
_HEADER_START = re.compile(r"^\s*(?:De|From)\s*:\s*\S", re.I)
_HEADER_NEXT = re.compile(r"^\s*(?:Envoyé|Sent|Date|À|To|Cc|Objet|Subject)\s*:\s*\S", re.I)
_OUTLOOK_RULE = re.compile(r"^\s*_{10,}\s*$")  # Outlook's line of underscores above the header block
_SIGNATURE = re.compile(r"^(--|__|—)\s*$")


def _quote_starts(lines: list[str], i: int) -> bool:
    line = lines[i]
    if _ATTRIBUTION.match(line):
        return True
    # Gmail wraps a long attribution: "Le lun. 3 mars 2025 à 10:15, Support <" / "support@x> a écrit :"
    if i + 1 < len(lines) and re.match(r"^\s*(?:Le|On)\s", line) and _ATTRIBUTION.match(f"{line} {lines[i + 1]}"):
        return True
    return bool(_HEADER_START.match(line) and any(_HEADER_NEXT.match(ln) for ln in lines[i + 1:i + 4]))


def split_quoted(text: str) -> tuple[str, str]:
    """(new text, folded history): the reply above the first quote header, '>' block or signature."""
    if not text:
        return "", ""
    lines = text.split("\n")
    # quoted_tail[i]: every line from i on is a '>' line or blank (computed once: no quadratic rescans).
    quoted_tail = [True] * (len(lines) + 1)
    for i in range(len(lines) - 1, -1, -1):
        quoted_tail[i] = quoted_tail[i + 1] and (lines[i].startswith(">") or not lines[i].strip())
    cut = len(lines)
    for i, line in enumerate(lines):
        if i == 0 or not line or line.isspace():  # a blank line starts nothing
            continue
        if _quote_starts(lines, i):
            cut = i
            j = i - 1
            while j > 0 and not lines[j].strip():
                j -= 1
            if j > 0 and _OUTLOOK_RULE.match(lines[j]):
                cut = j
            break
        if line.startswith(">") and quoted_tail[i]:
            cut = i
            break
        if _SIGNATURE.match(line):
            cut = i
            break
    new = "\n".join(lines[:cut]).rstrip()
    rest = "\n".join(lines[cut:]).strip()
    if not new.strip():
        return text.strip(), ""
    return new, rest


# Where mail clients put the quoted history (or the signature) in an HTML reply: Gmail, Thunderbird, Apple
# Mail and Outlook (desktop and web), Yahoo, Proton, Zoho. Read on the raw HTML: sanitizing drops class and id.
_HTML_QUOTE_CLASSES = {
    "gmail_quote", "gmail_extra", "gmail_signature", "moz-cite-prefix", "moz-signature", "yahoo_quoted",
    "protonmail_quote", "protonmail_signature_block", "zmail_extra", "outlookmessageheader",
    "ms-outlook-mobile-reference-message",
}
_HTML_QUOTE_IDS = {
    "divrplyfwdmsg", "x_divrplyfwdmsg", "appendonsend", "mail-editor-reference-message-container", "signature",
}


class _QuoteFinder(HTMLParser):
    """The offset in the raw HTML where the quoted history starts: the first element a mail client marks as
    quote or signature, a <blockquote>, or a text line that is an attribution ("Le ... a écrit :") or a
    signature separator ("-- ")."""

    def __init__(self, markup: str):
        super().__init__(convert_charrefs=True)
        self.starts = [0]
        for m in re.finditer("\n", markup):
            self.starts.append(m.end())
        self.cut: int | None = None

    def _offset(self) -> int:
        line, col = self.getpos()
        return self.starts[line - 1] + col

    def handle_starttag(self, tag, attrs):
        if self.cut is not None:
            return
        values = dict(attrs)
        classes = {c.lower() for c in (values.get("class") or "").split()}
        if (tag == "blockquote" or classes & _HTML_QUOTE_CLASSES
                or (values.get("id") or "").lower() in _HTML_QUOTE_IDS):
            self.cut = self._offset()

    def handle_data(self, data):
        if self.cut is not None:
            return
        start = self._offset()
        for n, line in enumerate(data.split("\n")):
            if _ATTRIBUTION.match(line.strip()) or _SIGNATURE.match(line.strip()):
                # A later line of the same text: found in the markup after the text's start when it can be.
                at = self.rawdata.find(line.strip(), start) if n else -1
                self.cut = at if at >= 0 else start
                return


QUOTE_SCAN_LIMIT = 256 * 1024
_DANGLING_LT = re.compile(r"<(?=[^<>]*(?:<|$))")


def split_quoted_html(markup: str) -> tuple[str, str]:
    """(the raw HTML above the quoted history, the history) — ("whole", "") without one. Unclosed tags are
    the sanitizer's to close; markup the parser cannot read is returned whole."""
    if not markup:
        return "", ""
    if len(markup) > QUOTE_SCAN_LIMIT:  # the text's quote folding (split_quoted) takes over
        return markup, ""
    # Python's HTMLParser rescans to the end for every "<" whose tag never closes ("<img <img <img…" : 50 KB took
    # 48 s). Such a "<" is text anyway: the parser reads a copy where it is replaced by "_" (same offsets).
    readable = _DANGLING_LT.sub("_", markup)
    finder = _QuoteFinder(readable)
    try:
        finder.feed(readable)
        finder.close()
    except SoftTimeLimitExceeded:
        raise
    except Exception:  # noqa: BLE001 - unreadable markup: shown whole, sanitized
        return markup, ""
    if not finder.cut:
        return markup, ""
    return markup[: finder.cut], markup[finder.cut:]
