"""Turn any byte string into a ParsedEmail. Never raises: what cannot be read is
reported in ``problems`` and the caller decides (import with what we have, or quarantine).

Handles every charset Python knows, mislabelled ones (windows-1252 sent as
iso-8859-1 or us-ascii, invalid UTF-8), RFC 2047 encoded words, RFC 2231 file
names, nested multiparts, inline images and attachments.
"""

from __future__ import annotations

import codecs
import email
import email.policy
import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from email.header import decode_header, make_header
from email.message import Message as EmailMessage
from email.utils import getaddresses, parsedate_to_datetime

MAX_HEADER = 998 * 4

# Labels that lie: mail clients often say iso-8859-1 or ascii and send windows-1252.
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


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Decode with the declared charset, fixing the usual lies; never raises."""
    label = (charset or "").strip().strip('"').lower()
    candidates = []
    if label:
        candidates.append(CHARSET_ALIASES.get(label, label))
    candidates += ["utf-8", "windows-1252"]
    for cs in candidates:
        try:
            codecs.lookup(cs)
        except LookupError:
            continue
        try:
            text = data.decode(cs)
        except (UnicodeDecodeError, LookupError):
            continue
        # Declared utf-8 that decodes but is really latin-1 is caught by the strict decode above.
        return text
    return data.decode("utf-8", errors="replace")


def decode_header_value(value) -> str:
    """An RFC 2047 header as text, tolerant of broken encoded words and raw 8-bit bytes."""
    if value is None:
        return ""
    raw = str(value)
    try:
        parts = decode_header(raw)
    except Exception:
        return _clean_header(raw)
    out = []
    for chunk, cs in parts:
        if isinstance(chunk, bytes):
            out.append(decode_bytes(chunk, cs))
        else:
            out.append(chunk)
    text = "".join(out) if len(parts) > 1 else (out[0] if out else "")
    try:
        if len(parts) > 1:
            text = str(make_header([(p if isinstance(p, bytes) else p.encode("utf-8", "replace"),
                                     (cs or "utf-8") if isinstance(p, bytes) else "utf-8") for p, cs in parts]))
    except Exception:
        pass
    return _clean_header(text)


def _clean_header(text: str) -> str:
    text = text.replace("\r", " ").replace("\n", " ").replace("\x00", "")
    text = re.sub(r"\s+", " ", text).strip()
    # Surrogates from undecodable bytes (email package's surrogateescape) become U+FFFD.
    return text.encode("utf-8", "replace").decode("utf-8")[:MAX_HEADER]


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
    return [f[:500] for f in found][:100]


def raw_digest(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def _addresses(values: list[str]) -> list[tuple[str, str]]:
    try:
        pairs = getaddresses([decode_header_value(v) for v in values if v])
    except Exception:
        return []
    return [(name.strip(), addr.strip().lower()) for name, addr in pairs if "@" in (addr or "")]


AUTO_SENDERS = re.compile(r"^(mailer-daemon|postmaster|no-?reply|do-?not-?reply|bounces?)([+@]|$)", re.I)


def detect_automatic(msg: EmailMessage, from_email: str) -> str:
    def h(name: str) -> str:
        return str(msg.get(name, "") or "").strip().lower()

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


def _part_filename(part: EmailMessage) -> str:
    try:
        name = part.get_filename()  # handles RFC 2231 and RFC 2047
    except Exception:
        name = None
    if not name:
        ctype_name = part.get_param("name")
        if isinstance(ctype_name, tuple):
            name = email.utils.collapse_rfc2231_value(ctype_name)
        else:
            name = ctype_name
    return decode_header_value(name) if name else ""


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
    if msg.is_multipart():
        payload = msg.get_payload()
        if not isinstance(payload, list):
            parsed.problems.append("broken multipart")
            return
        subtype = msg.get_content_subtype()
        if subtype == "alternative":
            # Prefer the richest readable version, but keep a text twin too.
            for sub in payload:
                _walk(sub, parsed, depth + 1)
            return
        for sub in payload:
            _walk(sub, parsed, depth + 1)
        return
    ctype = (msg.get_content_type() or "text/plain").lower()
    disposition = (msg.get_content_disposition() or "").lower()
    filename = _part_filename(msg)
    if ctype == "message/rfc822" or (ctype.startswith("message/") and msg.is_multipart()):
        data = msg.as_bytes() if hasattr(msg, "as_bytes") else b""
        parsed.attachments.append(ParsedAttachment(filename or "message.eml", "message/rfc822", data))
        return
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
    content_id = normalize_message_id(str(msg.get("content-id", "") or ""))
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
        msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    except Exception as exc:  # pragma: no cover - compat32 parser is very tolerant
        parsed.problems.append(f"unparseable message: {exc}")
        return parsed
    if msg.defects:
        parsed.problems += [type(d).__name__ for d in msg.defects][:10]

    parsed.message_id = normalize_message_id(decode_header_value(msg.get("message-id")))
    parsed.in_reply_to = message_ids(str(msg.get("in-reply-to", "") or ""))
    parsed.references = message_ids(str(msg.get("references", "") or ""))
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
    parsed.auto_reason = detect_automatic(msg, parsed.from_email)
    return parsed


# --- quoted history and signatures --------------------------------------------------------------------

_QUOTE_HEADERS = re.compile(
    r"^\s*(?:Le .{5,200}a écrit\s*:|On .{5,200}wrote:|-----\s*Original Message\s*-----|"
    r"-----\s*Message d'origine\s*-----|De\s*:\s.+|From:\s.+|Envoyé\s*:\s.+|Sent:\s.+)\s*$",
    re.I | re.M,
)
_SIGNATURE = re.compile(r"^(--|__|—)\s*$", re.M)


def split_quoted(text: str) -> tuple[str, str]:
    """(new text, folded history): the reply above the first quote header, '>' block or signature."""
    if not text:
        return "", ""
    lines = text.split("\n")
    cut = len(lines)
    for i, line in enumerate(lines):
        if _QUOTE_HEADERS.match(line) and i > 0:
            cut = i
            break
        if line.startswith(">") and i > 0 and all(ln.startswith(">") or not ln.strip() for ln in lines[i:]):
            cut = i
            break
        if _SIGNATURE.match(line) and i > 0:
            cut = i
            break
    new = "\n".join(lines[:cut]).rstrip()
    rest = "\n".join(lines[cut:]).strip()
    if not new.strip():
        return text.strip(), ""
    return new, rest
