"""Issue 22: what real mailers send and a mail client still reads. Sender recovery (lenient addresses,
fallback headers, stray lines above the headers), charsets that lie, uuencode, TNEF (winmail.dat) and
attached messages. Pure parsing, no database; the intake side is in test_email_intake_lenient.py."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import pytest

from tickets.email.parsing import addresses, decode_bytes, decode_header_value, parse_email

TNEF = Path(__file__).parent / "email_corpus" / "tnef" / "umlaut.tnef"


def message(headers: str, body: str = "Bonjour.\n") -> bytes:
    return (headers.strip("\n") + "\n\n" + body).encode("utf-8")


@pytest.mark.parametrize(
    "value, expected",
    [
        ("Test test@example.com", [("Test", "test@example.com")]),
        ("user@example.com.", [("", "user@example.com")]),
        ('"Some Name"@example.com>', [("", '"some name"@example.com')]),
        ("first last@example.com", [("first", "last@example.com")]),
        ("Name <a@b.com", [("Name", "a@b.com")]),
        ('"x" <a@b.com>>', [("x", "a@b.com")]),
        ("=?iso-2022-jp?B?GyRCJUYlOSVIGyhC?= <jp@example.com>", [("テスト", "jp@example.com")]),
        ("\x1b$B%F%9%H\x1b(B <jp@example.com>", [("テスト", "jp@example.com")]),
        # never readable: left out, so the message falls back to another header or is quarantined
        ("Claire <claire@@example..com>", []),
        ("Postmaster <>", []),
        ("undisclosed-recipients:;", []),
        # an address hidden in an encoded display name is never taken as the sender
        ("=?utf-8?q?a=40b.com?= <x@evil.test>", [("a@b.com", "x@evil.test")]),
        ("=?utf-8?q?a=40b.com?=", []),
    ],
)
def test_lenient_addresses(value, expected):
    assert addresses([value]) == expected


@pytest.mark.parametrize(
    "headers, sender, source",
    [
        ("From: Test test@example.com\nSubject: s", "test@example.com", "from"),
        ("Subject: s\nReply-To: <reply@example.com>\nSender: sender@example.com", "reply@example.com", "reply-to"),
        ("From: Claire\nSubject: s\nSender: sender@example.com", "sender@example.com", "sender"),
        ("From: Postmaster <>\nReturn-Path: <MAILER-DAEMON@mx.example.com>\nSubject: s",
         "mailer-daemon@mx.example.com", "return-path"),
    ],
)
def test_sender_falls_back_to_reply_to_sender_and_return_path(headers, sender, source):
    parsed = parse_email(message(headers))
    assert (parsed.from_email, parsed.sender_header) == (sender, source)


def test_null_return_path_and_no_address_anywhere_give_no_sender():
    parsed = parse_email(message("From: Claire\nReturn-Path: <>\nSubject: s"))
    assert (parsed.from_email, parsed.from_name) == ("", "Claire")


def test_headers_after_a_stray_first_line_are_read():
    raw = message(
        "---- Original email message ----\nFrom: Renée Martin <renee@example.org>\nSubject: Facture\n"
        "Message-ID: <stray@example.org>",
        "Le texte.\n",
    )
    parsed = parse_email(raw)
    assert (parsed.from_email, parsed.subject) == ("renee@example.org", "Facture")
    assert parsed.message_id == "stray@example.org"
    assert parsed.text.strip() == "Le texte."


def test_a_body_that_only_looks_like_a_header_stays_a_body():
    parsed = parse_email(b"Bonjour,\nvoici ma question.\nMerci: Claire\n")
    assert parsed.from_email == ""
    assert "voici ma question." in parsed.text


@pytest.mark.parametrize(
    "data, label, text",
    [
        ("Zażółć „gęślą”".encode("cp1250"), "iso-8859-2", "Zażółć „gęślą”"),
        ("Привет – «мир»".encode("cp1251"), "iso-8859-5", "Привет – «мир»"),
        ("①㈱".encode("cp932"), "shift_jis", "①㈱"),
        ("été".encode("latin-1"), "iso-8859-1", "été"),
    ],
)
def test_windows_code_pages_sent_under_iso_and_jis_labels(data, label, text):
    assert decode_bytes(data, label) == text


def test_iso_2022_jp_subject():
    assert decode_header_value("=?ISO-2022-JP?B?GyRCJUYlOSVIGyhC?=") == "テスト"


def test_uuencoded_file_in_a_plain_text_body():
    import binascii

    data = b"Bonjour, voici le fichier.\n" * 4
    lines = [binascii.b2a_uu(data[i:i + 45]).decode().rstrip("\n") for i in range(0, len(data), 45)]
    body = "Le fichier est joint.\n\nbegin 644 notes.txt\n" + "\n".join(lines) + "\n`\nend\n\nMerci.\n"
    parsed = parse_email(message("From: a@example.com\nSubject: uu", body))
    assert [(a.filename, a.data) for a in parsed.attachments] == [("notes.txt", data)]
    assert "begin 644" not in parsed.text and "Le fichier est joint." in parsed.text and "Merci." in parsed.text


def test_uuencode_lookalike_without_end_stays_text():
    body = "begin 644 rien.txt\nce n'est pas de l'uuencode\n"
    parsed = parse_email(message("From: a@example.com\nSubject: uu", body))
    assert parsed.attachments == [] and "begin 644 rien.txt" in parsed.text


def test_winmail_dat_is_unpacked():
    msg = EmailMessage()
    msg["From"] = "outlook@example.com"
    msg["Subject"] = "TNEF"
    msg.set_content("Voir les pièces jointes.")
    msg.add_attachment(TNEF.read_bytes(), maintype="application", subtype="ms-tnef", filename="winmail.dat")
    parsed = parse_email(msg.as_bytes())
    names = [a.filename for a in parsed.attachments]
    assert names == ["TBZ PARIV GmbH.jpg", "image003.jpg", "UmlautAnhang-äüö.txt"]
    assert parsed.attachments[0].data.startswith(b"\xff\xd8\xff")


def test_unreadable_winmail_dat_is_kept_as_it_is():
    msg = EmailMessage()
    msg["From"] = "outlook@example.com"
    msg.set_content("x")
    msg.add_attachment(b"not tnef at all", maintype="application", subtype="ms-tnef", filename="winmail.dat")
    assert [a.filename for a in parse_email(msg.as_bytes()).attachments] == ["winmail.dat"]


def test_attached_message_is_named_after_its_subject():
    inner = EmailMessage()
    inner["From"] = "b@example.com"
    inner["Subject"] = "Réunion de mardi"
    inner.set_content("Ordre du jour.")
    outer = EmailMessage()
    outer["From"] = "a@example.com"
    outer["Subject"] = "Fwd"
    outer.set_content("Voir ci-joint.")
    outer.add_attachment(inner)
    parsed = parse_email(outer.as_bytes())
    assert [(a.filename, a.content_type) for a in parsed.attachments] == [("Réunion de mardi.eml", "message/rfc822")]


def test_named_text_part_not_marked_attachment_is_shown_and_listed():
    raw = (
        b"From: a@example.com\nSubject: s\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=B\n\n"
        b"--B\nContent-Type: text/plain; name=\"msg.txt\"\n\na simple kind of mirror\n--B--\n"
    )
    parsed = parse_email(raw)
    assert "a simple kind of mirror" in parsed.text
    assert [a.filename for a in parsed.attachments] == ["msg.txt"]


HOSTILE = ["a" * 50_000, "a@" * 25_000, '"' + "a" * 50_000, "begin 644 " + "x" * 50_000, "@" * 50_000,
           "a" * 25_000 + "@" + "b" * 25_000]


def test_address_token_scan_is_linear():
    import time

    from tickets.email.parsing import address_token

    for text in HOSTILE:
        start = time.process_time()
        address_token(text)
        addresses([text])
        assert time.process_time() - start < 0.5, text[:12]
    assert address_token("x <a@b.c> y") == (3, 8)


@pytest.mark.parametrize("pattern_name", ["_UU_BEGIN", "_HEADER_LINE", "_QUOTED_LOCAL", "_C1_CONTROLS"])
def test_new_expressions_stay_linear_on_hostile_input(pattern_name):
    """No super-linear backtracking: each expression on 50,000 characters built to hurt it answers at once."""
    import time

    from tickets.email import parsing

    pattern = getattr(parsing, pattern_name)
    for text in HOSTILE:
        subject = text.encode() if isinstance(pattern.pattern, bytes) else text
        start = time.process_time()
        pattern.search(subject)
        pattern.match(subject)
        assert time.process_time() - start < 0.5, (pattern_name, text[:12])
