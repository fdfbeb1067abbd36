"""Turn any byte string into a ParsedEmail. Never raises: what cannot be read is
reported in ``problems`` and the caller decides (import with what we have, or quarantine).

Handles every charset Python knows, mislabelled ones (windows-1252 sent as
iso-8859-1 or us-ascii, invalid UTF-8), RFC 2047 encoded words, RFC 2231 file
names, nested multiparts, inline images and attachments.
"""

from __future__ import annotations

import binascii
import codecs
import email
import email.utils
import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message as EmailMessage
from email.policy import Compat32
from email.utils import getaddresses, parsedate_to_datetime
from html.parser import HTMLParser

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
    "x-sjis": "shift_jis",
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
    candidates += ["utf-8", "windows-1252"]
    for cs in candidates:
        if _not_a_charset(cs):
            continue
        try:
            text = data.decode(cs)
        except Exception:  # unknown label, not a text codec, or a codec that refuses the bytes (UnicodeError)
            if cs == "utf-8" and _mostly_utf8(data):
                # UTF-8 with a few broken bytes (a cut multi-byte character): keep the good characters
                # rather than turn every accent into windows-1252 mojibake.
                return data.decode("utf-8", errors="replace")
            continue
        # Declared utf-8 that decodes but is really latin-1 is caught by the strict decode above.
        return _no_surrogates(text)
    return data.decode("utf-8", errors="replace")


# Python's escape codecs are no MIME charset: a part labelled with one is read as UTF-8 or windows-1252,
# not unescaped ("\\S" would warn, "\\x41" would become "A").
_PYTHON_ONLY_CODECS = {"unicode-escape", "raw-unicode-escape"}


def _not_a_charset(label: str) -> bool:
    try:
        return codecs.lookup(label).name in _PYTHON_ONLY_CODECS
    except (LookupError, ValueError):  # unknown, or not even a name ("utf\x00-8")
        return False  # the decode below fails and the next candidate is tried


_UTF8_SEQUENCE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")


def _mostly_utf8(data: bytes) -> bool:
    valid = len(_UTF8_SEQUENCE.findall(data))
    if not valid:
        return False
    broken = data.decode("utf-8", errors="replace").count("\ufffd") - data.count(b"\xef\xbf\xbd")
    return valid > broken


def _recover_8bit(value: str) -> str:
    """A header value as the parser gives it: raw 8-bit bytes surrogate-escaped. Decode them."""
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
        data = re.sub(rb"[^A-Za-z0-9+/]", b"", data)
        if len(data) % 4 == 1:  # a truncated word: drop the lone sextet
            data = data[:-1]
        return binascii.a2b_base64(data + b"=" * (-len(data) % 4))
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


def decode_header_value(value) -> str:
    """An RFC 2047 header as text, tolerant of broken encoded words and raw 8-bit bytes."""
    if value is None:
        return ""
    try:
        raw = str(value)
    except Exception:
        return ""
    try:
        text = _decode_encoded_words(_recover_8bit(raw))
    except Exception:
        text = raw
    return _clean_header(text)


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
    auto_reason: str = ""  # why this is an auto-reply / bounce / list mail, or ""
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


def _addresses(values: list[str]) -> list[tuple[str, str]]:
    """(name, address) pairs. The header is split into addresses *before* RFC 2047 words are decoded:
    an encoded display name may hold a comma or an address of its own ("=?utf-8?q?a=40b.com=2C?=
    <x@evil>") and must not become a second (or a spoofed first) address."""
    out = []
    for value in values:
        if not value:
            continue
        try:
            pairs = getaddresses([_recover_8bit(str(value)).replace("\r", " ").replace("\n", " ")])
        except Exception:
            continue
        for name, addr in pairs:
            addr = _clean_header(addr or "").lower()
            if "@" in addr:
                out.append((decode_header_value(name), addr))
    return out


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
        except Exception:
            name = ""
        name = decode_header_value(name)
        if name:
            return name
    return ""


def _payload_bytes(part: EmailMessage) -> bytes:
    try:
        data = part.get_payload(decode=True)
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
    ctype = (msg.get_content_type() or "text/plain").lower()
    if ctype in ("message/rfc822", "message/global"):
        # A forwarded message: kept whole as an .eml attachment, not mixed into the body
        # (compat32 says a message/rfc822 part "is multipart", so this test comes first).
        payload = msg.get_payload()
        try:
            if isinstance(payload, list) and payload:
                data = payload[0].as_bytes()
            else:
                data = _payload_bytes(msg)
        except Exception:
            data = _payload_bytes(msg)
        filename = _part_filename(msg) or "message.eml"
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
            except Exception as exc:  # one broken part does not lose the others
                parsed.problems.append(f"part: {type(exc).__name__}: {exc}")
        return
    disposition = (msg.get_content_disposition() or "").lower()
    filename = _part_filename(msg)
    if ctype.startswith("multipart/"):
        # Declared multipart but no usable boundary: the parser leaves the body as one string; read it as text.
        ctype = "text/plain"
    is_body_text = ctype in ("text/plain", "text/html") and disposition != "attachment" and not filename
    if is_body_text:
        text = decode_bytes(_payload_bytes(msg), msg.get_content_charset())
        if ctype == "text/html":
            if not parsed.html:
                parsed.html = text
            else:
                parsed.html += "\n" + text
        else:
            parsed.text = f"{parsed.text}\n{text}" if parsed.text else text
        return
    data = _payload_bytes(msg)
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


def _default_name(ctype: str) -> str:
    ext = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "application/pdf": "pdf",
           "text/calendar": "ics", "text/plain": "txt"}.get(ctype, "bin")
    return f"piece-jointe.{ext}"


def parse_email(raw: bytes) -> ParsedEmail:
    parsed = ParsedEmail()
    try:
        msg = email.message_from_bytes(raw, policy=RAW_POLICY)
    except Exception as exc:  # pragma: no cover - compat32 parser is very tolerant
        parsed.problems.append(f"unparseable message: {exc}")
        return parsed
    if msg.defects:
        parsed.problems += [type(d).__name__ for d in msg.defects][:10]

    parsed.message_id = normalize_message_id(decode_header_value(msg.get("message-id")))
    # Not _clean_header: a long References header must not be cut (its end holds the nearest ancestors).
    parsed.in_reply_to = message_ids(_no_surrogates(str(msg.get("in-reply-to", "") or "")).replace("\x00", ""))
    parsed.references = message_ids(_no_surrogates(str(msg.get("references", "") or "")).replace("\x00", ""))
    parsed.subject = decode_header_value(msg.get("subject"))[:255]
    from_pairs = _addresses(msg.get_all("from") or [])
    if not from_pairs:
        from_pairs = _addresses(msg.get_all("sender") or [])
    if from_pairs:
        parsed.from_name, parsed.from_email = from_pairs[0]
    reply_to = _addresses(msg.get_all("reply-to") or [])
    parsed.reply_to = reply_to[0][1] if reply_to else ""
    parsed.to = [a for _, a in _addresses(msg.get_all("to") or [])]
    parsed.cc = [a for _, a in _addresses(msg.get_all("cc") or [])]
    date = msg.get("date")
    if date:
        try:
            parsed.date = parsedate_to_datetime(str(date))
            if parsed.date is not None and parsed.date.tzinfo is None:
                parsed.date = None
        except Exception:
            parsed.problems.append("bad Date header")
    try:
        _walk(msg, parsed)
    except Exception as exc:
        parsed.problems.append(f"body: {type(exc).__name__}: {exc}")
    parsed.text = parsed.text.replace("\r\n", "\n").replace("\x00", "")
    parsed.html = parsed.html.replace("\x00", "")
    try:
        parsed.auto_reason = detect_automatic(msg, parsed.from_email)
    except Exception as exc:
        parsed.problems.append(f"headers: {type(exc).__name__}: {exc}")
    return parsed


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
    except Exception:  # noqa: BLE001 - unreadable markup: shown whole, sanitized
        return markup, ""
    if not finder.cut:
        return markup, ""
    return markup[: finder.cut], markup[finder.cut:]
