"""Cyrillic and CJK bytes labelled as a Latin charset (or raw 8-bit header bytes) are read in their real
charset, never Latin-1 mojibake; real Latin-1 / windows-1252 text is left exactly as it is (issue 22)."""

from __future__ import annotations

import pytest

from tickets.email.parsing import decode_bytes, decode_header_value, parse_email

RUSSIAN = "Это сообщение имеет вложение, пожалуйста, проверьте его"
LATIN = [
    "Café, élève, Größe, señor",
    "créée à l'été, Ærø, Þjóðhátíð, naïve, œuvre, ¿qué tal? ¡olé!",
    "Prix : 100 € ••• « élève » — 25 °C ± 2",
    "ÀÉÎÕÜ ÇA ÉTÉ",
]


def raw_header(data: bytes) -> str:
    """A header value as the parser returns raw 8-bit bytes (surrogate-escaped)."""
    return data.decode("utf-8", "surrogateescape")


@pytest.mark.parametrize("label", ["us-ascii", "iso-8859-1", "latin-1", "windows-1252", None])
def test_windows_1251_labelled_latin_is_cyrillic(label):
    assert decode_bytes(RUSSIAN.encode("cp1251"), label) == RUSSIAN
    assert decode_bytes("Это сообщение имеет".encode("cp1251"), label) == "Это сообщение имеет"


@pytest.mark.parametrize("label", ["us-ascii", "iso-8859-1", None])
def test_koi8_r_labelled_latin_is_cyrillic(label):
    assert decode_bytes(RUSSIAN.encode("koi8_r"), label) == RUSSIAN
    assert decode_bytes("Это сообщение имеет".encode("koi8_r"), label) == "Это сообщение имеет"


@pytest.mark.parametrize("label", ["iso-8859-1", "windows-1252", "us-ascii", "latin-1"])
@pytest.mark.parametrize("text", LATIN)
def test_real_latin_text_is_never_changed(label, text):
    data = text.encode("cp1252")
    assert decode_bytes(data, label) == text
    assert decode_header_value(raw_header(data)) == text


def test_raw_8bit_header_bytes():
    assert decode_header_value(raw_header("邮件传输失败！".encode("gb2312"))) == "邮件传输失败！"
    assert decode_header_value(raw_header("Это сообщение".encode("cp1251"))) == "Это сообщение"
    assert decode_header_value(raw_header("Ответ: заказ № 12345".encode("cp1251"))) == "Ответ: заказ № 12345"
    assert decode_header_value(raw_header("Ελληνικά κείμενο".encode("cp1253"))) == "Ελληνικά κείμενο"


def test_a_whole_message_mislabelled():
    raw = (
        b"From: Ivan <ivan@example.ru>\nTo: support@acme.test\nSubject: "
        + "邮件传输失败！".encode("gbk")
        + b"\nMessage-ID: <ru-1@example.ru>\nMIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\n"
        b"Content-Transfer-Encoding: 8bit\n\n" + RUSSIAN.encode("cp1251") + b"\n"
    )
    parsed = parse_email(raw)
    assert parsed.subject == "邮件传输失败！"
    assert parsed.text.strip() == RUSSIAN


def test_a_latin_1_message_keeps_its_accents():
    raw = (
        b"From: Renee <renee@example.fr>\nTo: support@acme.test\nSubject: =?iso-8859-1?q?=C9l=E8ve?=\n"
        b"MIME-Version: 1.0\nContent-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: 8bit\n\n"
        + "Café, élève, Größe, señor".encode("latin-1")
        + b"\n"
    )
    parsed = parse_email(raw)
    assert parsed.subject == "Élève"
    assert parsed.text.strip() == "Café, élève, Größe, señor"
