"""Properties (hypothesis) of the lenient MIME reading (issue 22): on synthetic messages written here, every
file and the text come out as a mail client shows them, whatever the structure's fault.

- a nested multipart that reuses its parent's boundary: the parts after its early close are recovered;
- no closing delimiter; delimiter lines with trailing blanks, a boundary parameter with a trailing blank;
- a declared boundary the body never uses (the body's own delimiter is found);
- an attached message (``message/rfc822``, plain or base64) with its own files, followed by more files;
- a file named only by ``Content-Type; name=``, RFC 2231 continuations with a charset, RFC 2047 words in
  quoted names;
- mislabelled charsets: windows-1252 sent as iso-8859-1, GBK as gb2312, Shift_JIS as iso-2022-jp;
- uuencoded files (``x-uuencode`` parts and blocks in the text), TNEF after a broken structure;
- what cannot be read is kept: bytes that look like a part after the close, base64 cut short;
- well-formed mail is read exactly as Python reads it (no repair starts without a fault).
Pure parsing, no database; intake's side (the note on the ticket) is in test_email_intake_recovery.py.
"""

from __future__ import annotations

import base64
import binascii
import email
import functools
import urllib.parse
from email.header import Header
from email.message import EmailMessage
from email.policy import compat32
from pathlib import Path

from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tickets.email.parsing import decode_bytes, parse_email

TNEF = Path(__file__).parent / "email_corpus" / "tnef" / "umlaut.tnef"
settings = functools.partial(
    hypothesis_settings, database=None, deadline=None, max_examples=40, suppress_health_check=[HealthCheck.too_slow]
)

# File names as people give them: letters (accented, Cyrillic, CJK), digits, dashes; no blank at either end.
NAME_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_éèàçüöÄßøñЖдя請求書日本語"
NAMES = st.text(alphabet=NAME_CHARS, min_size=1, max_size=30)
ASCII_NAMES = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=20)
FILES = st.lists(
    st.tuples(ASCII_NAMES.map(lambda n: f"{n}.pdf"), st.binary(min_size=1, max_size=300)), min_size=1, max_size=4
)
BOUNDARIES = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'()+_,-./:=?", min_size=1, max_size=40
).map(lambda b: "----=_Part_" + b)
EOLS = st.sampled_from(["\n", "\r\n"])
# Single blanks: a header's runs of blanks are shown as one, as mail clients show them.
TEXTS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz éèà", min_size=1, max_size=60).map(
    lambda t: " ".join(f"Bonjour {t} fin".split())
)


def file_part(name: str, data: bytes, *, name_in: str = "disposition") -> str:
    if name_in == "type":
        head = f'Content-Type: application/pdf; name="{name}"\n'
    else:
        head = f'Content-Type: application/pdf\nContent-Disposition: attachment; filename="{name}"\n'
    return head + "Content-Transfer-Encoding: base64\n\n" + base64.encodebytes(data).decode()


def text_part(text: str) -> str:
    return f"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n{text}\n"


def assemble(lines: str, eol: str) -> bytes:
    head = "From: Claire <claire@example.org>\nSubject: Pieces\nMIME-Version: 1.0\n"
    return (head + lines).replace("\n", eol).encode("utf-8")


def files_of(parsed) -> list[tuple[str, bytes]]:
    return [(a.filename, a.data) for a in parsed.attachments]


@given(files=FILES, text=TEXTS, boundary=BOUNDARIES, eol=EOLS, blanks=st.sampled_from(["", " ", "\t", "  \t"]))
@settings()
def test_parts_after_a_nested_multipart_that_reuses_the_boundary_are_recovered(files, text, boundary, eol, blanks):
    b = boundary
    body = (
        f'Content-Type: multipart/mixed; boundary="{b}"\n\n'
        f'--{b}{blanks}\nContent-Type: multipart/alternative; boundary="{b}"\n\n'
        f"--{b}\n{text_part(text)}--{b}\nContent-Type: text/html; charset=utf-8\n\n<p>{text}</p>\n--{b}--\n\n"
        + "".join(f"--{b}{blanks}\n{file_part(n, d)}" for n, d in files)
        + f"--{b}--\n"
    )
    parsed = parse_email(assemble(body, eol))
    assert files_of(parsed) == files
    assert text in parsed.text
    assert parsed.unreadable == []


@given(files=FILES, text=TEXTS, boundary=BOUNDARIES, eol=EOLS, end=st.sampled_from(["", "\n", "\n\n"]))
@settings()
def test_a_missing_closing_delimiter_loses_nothing(files, text, boundary, eol, end):
    b = boundary
    body = (
        f'Content-Type: multipart/mixed; boundary="{b}"\n\n--{b}\n{text_part(text)}'
        + "".join(f"--{b}\n{file_part(n, d)}" for n, d in files)
    ).rstrip("\n") + end
    parsed = parse_email(assemble(body, eol))
    assert files_of(parsed) == files
    assert text in parsed.text


@given(
    files=FILES,
    text=TEXTS,
    boundary=BOUNDARIES,
    eol=EOLS,
    blanks=st.sampled_from([" ", "\t", " \t "]),
    param_blank=st.booleans(),
)
@settings()
def test_delimiters_with_trailing_blanks(files, text, boundary, eol, blanks, param_blank):
    b = boundary
    declared = b + (" " if param_blank else "")
    body = (
        f'Content-Type: multipart/mixed;\n boundary="{declared}"\n\n--{b}{blanks}\n{text_part(text)}'
        + "".join(f"--{b}{blanks}\n{file_part(n, d)}" for n, d in files)
        + f"--{b}--{blanks}\n"
    )
    parsed = parse_email(assemble(body, eol))
    assert files_of(parsed) == files
    assert text in parsed.text


@given(files=FILES, text=TEXTS, boundary=BOUNDARIES, eol=EOLS, declared=st.sampled_from(["{b}_", "{b}x", "", "other"]))
@settings()
def test_a_declared_boundary_the_body_never_uses(files, text, boundary, eol, declared):
    b = boundary
    param = f'; boundary="{declared.format(b=b)}"' if declared else ""
    body = (
        f"Content-Type: multipart/mixed{param}\n\n--{b}\n{text_part(text)}"
        + "".join(f"--{b}\n{file_part(n, d)}" for n, d in files)
        + f"--{b}--\n"
    )
    parsed = parse_email(assemble(body, eol))
    assert files_of(parsed) == files
    assert text in parsed.text


@given(inner_files=FILES, outer_files=FILES, subject=TEXTS, cte=st.sampled_from(["7bit", "base64"]))
@settings()
def test_an_attached_message_keeps_its_files_and_those_after_it(inner_files, outer_files, subject, cte):
    inner = EmailMessage()
    inner["From"] = "b@example.com"
    inner["Subject"] = subject
    inner.set_content("Le message d'origine.")
    for name, data in inner_files:
        inner.add_attachment(data, maintype="application", subtype="pdf", filename=name)
    inner_bytes = inner.as_bytes()
    encoded = base64.encodebytes(inner_bytes).decode() if cte == "base64" else inner_bytes.decode()
    body = (
        'Content-Type: multipart/mixed; boundary="OUT"\n\n--OUT\n'
        + text_part("Voir le message joint.")
        + f"--OUT\nContent-Type: message/rfc822\nContent-Transfer-Encoding: {cte}\n\n{encoded}\n"
        + "".join(f"--OUT\n{file_part(n, d)}" for n, d in outer_files)
        + "--OUT--\n"
    )
    parsed = parse_email(assemble(body, "\n"))
    attached = parsed.attachments[0]
    assert (attached.filename, attached.content_type) == (f"{subject}.eml", "message/rfc822")
    assert files_of(parsed)[1:] == outer_files
    again = parse_email(attached.data)  # the .eml opens as the message it was, files included
    assert again.subject == subject and files_of(again) == inner_files


@given(name=NAMES, ext=st.sampled_from([".pdf", ".zip", ".txt", ".docx"]), encode=st.booleans())
@settings()
def test_a_name_given_only_by_content_type(name, ext, encode):
    filename = name + ext
    value = Header(filename, "utf-8").encode() if encode or not filename.isascii() else filename
    body = (
        f'Content-Type: multipart/mixed; boundary="B"\n\n--B\n{text_part("x")}--B\n'
        f'Content-Type: application/octet-stream; name="{value}"\nContent-Transfer-Encoding: base64\n\n'
        f"{base64.encodebytes(b'data').decode()}--B--\n"
    )
    parsed = parse_email(assemble(body, "\n"))
    assert [a.filename for a in parsed.attachments] == [filename]


@given(
    name=NAMES,
    charset=st.sampled_from(["utf-8", "iso-8859-1", "windows-1252"]),
    pieces=st.integers(1, 4),
    where=st.sampled_from(["content-disposition", "content-type"]),
)
@settings()
def test_rfc2231_continuations_with_a_charset(name, charset, pieces, where):
    filename = name + ".pdf"
    try:
        encoded = urllib.parse.quote(filename.encode(charset), safe="")
    except UnicodeEncodeError:
        charset, encoded = "utf-8", urllib.parse.quote(filename.encode("utf-8"), safe="")
    size = -(-len(encoded) // pieces)
    chunks = [encoded[i : i + size] for i in range(0, len(encoded), size)]
    # Never cut inside a %XX escape: move the cut to the escape's start.
    fixed, carry = [], ""
    for chunk in chunks:
        chunk = carry + chunk
        cut = chunk.rfind("%", max(len(chunk) - 2, 0))
        carry, chunk = (chunk[cut:], chunk[:cut]) if cut != -1 else ("", chunk)
        fixed.append(chunk)
    fixed[-1] += carry
    param = "filename" if where == "content-disposition" else "name"
    params = ";\n ".join(
        f"{param}*{i}*={charset if i == 0 else ''}{chr(39) * 2 if i == 0 else ''}{c}"
        for i, c in enumerate(c for c in fixed if c)
    )
    header = (
        f"Content-Type: application/pdf\nContent-Disposition: attachment;\n {params}\n"
        if where == "content-disposition"
        else f"Content-Type: application/pdf;\n {params}\n"
    )
    body = (
        f'Content-Type: multipart/mixed; boundary="B"\n\n--B\n{text_part("x")}--B\n{header}'
        f"Content-Transfer-Encoding: base64\n\n{base64.encodebytes(b'%PDF-1.4').decode()}--B--\n"
    )
    parsed = parse_email(assemble(body, "\n"))
    assert [a.filename for a in parsed.attachments] == [filename]


@given(name=NAMES, encoding=st.sampled_from(["b", "q"]), prefix=st.sampled_from(["", "Facture "]))
@settings()
def test_encoded_words_inside_quoted_names(name, encoding, prefix):
    data = name.encode("utf-8")
    if encoding == "b":
        word = f"=?utf-8?B?{base64.b64encode(data).decode()}?="
    else:
        word = "=?UTF-8?Q?" + "".join(chr(c) if chr(c).isalnum() and c < 128 else f"={c:02X}" for c in data) + "?="
    body = (
        f'Content-Type: multipart/mixed; boundary="B"\n\n--B\n{text_part("x")}--B\n'
        f'Content-Type: application/pdf\nContent-Disposition: attachment; filename="{prefix}{word}.pdf"\n'
        f"Content-Transfer-Encoding: base64\n\n{base64.encodebytes(b'%PDF').decode()}--B--\n"
    )
    parsed = parse_email(assemble(body, "\n"))
    assert [a.filename for a in parsed.attachments] == [f"{prefix}{name}.pdf"]


# Words as French text has them (blank-separated): windows-1252's accented letters and its € “ ” – … œ.
WORDS_1252 = st.lists(
    st.sampled_from(
        [
            "été",
            "ça",
            "où",
            "à",
            "déjà",
            "€",
            "“",
            "”",
            "‘",
            "’",
            "–",
            "—",
            "…",
            "œuvre",
            "Œil",
            "Šárka",
            "™",
            "Noël",
            "reçu",
            "facture",
            "n°",
            "12,50",
        ]
    ),
    min_size=1,
    max_size=20,
).map(" ".join)


@given(WORDS_1252.filter(lambda t: not t.isascii()))
@settings()
def test_windows_1252_sent_as_iso_8859_1(text):
    assert decode_bytes(text.encode("cp1252"), "iso-8859-1") == text


@given(st.text(alphabet="请求发票您好谢谢的问题發票問題镕堃喆 ，。", min_size=1, max_size=60))
@settings()
def test_gbk_sent_as_gb2312(text):
    assert decode_bytes(text.encode("gbk"), "gb2312") == text


@given(st.text(alphabet="こんにちはありがとうございます請求書日本語会社様、。", min_size=0, max_size=60))
@settings()
def test_shift_jis_sent_as_iso_2022_jp(text):
    text = "お問い合わせ" + text  # Japanese mail has hiragana: what tells Shift_JIS from EUC-JP
    assert decode_bytes(text.encode("cp932"), "iso-2022-jp") == text
    assert decode_bytes(text.encode("euc_jp"), "shift_jis") == text
    assert decode_bytes(text.encode("iso2022_jp"), "iso-2022-jp") == text


def test_real_half_width_katakana_stays_katakana():
    text = "ｶﾀｶﾅ ｼｮｳﾋﾝ､ｺﾞｾﾝｴﾝ ﾃﾞｽ"
    assert decode_bytes(text.encode("cp932"), "shift_jis") == text


def _uu(data: bytes) -> str:
    return "".join(binascii.b2a_uu(data[i : i + 45]).decode() for i in range(0, len(data), 45))


@given(name=ASCII_NAMES, data=st.binary(min_size=1, max_size=400), inline=st.booleans())
@settings()
def test_uuencoded_files(name, data, inline):
    filename = f"{name}.bin"
    if inline:
        body = f"Content-Type: text/plain\n\nVoici le fichier.\n\nbegin 644 {filename}\n{_uu(data)}`\nend\n\nMerci.\n"
    else:
        body = (
            f'Content-Type: multipart/mixed; boundary="B"\n\n--B\n{text_part("Voici le fichier.")}--B\n'
            f'Content-Type: application/octet-stream; name="{filename}"\nContent-Transfer-Encoding: x-uuencode\n\n'
            f"begin 644 {filename}\n{_uu(data)}`\nend\n--B--\n"
        )
    parsed = parse_email(assemble(body, "\n"))
    assert files_of(parsed) == [(filename, data)]
    assert "Voici le fichier." in parsed.text and "begin 644" not in parsed.text


@given(eol=EOLS)
@settings(max_examples=4)
def test_winmail_dat_after_a_broken_structure_is_unpacked(eol):
    tnef = base64.encodebytes(TNEF.read_bytes()).decode()
    body = (
        'Content-Type: multipart/mixed; boundary="B"\n\n--B\nContent-Type: multipart/alternative; boundary="B"\n\n'
        f"--B\n{text_part('Voir les pièces jointes.')}--B--\n\n"
        f'--B\nContent-Type: application/ms-tnef; name="winmail.dat"\nContent-Transfer-Encoding: base64\n\n{tnef}'
        "--B--\n"
    )
    parsed = parse_email(assemble(body, eol))
    assert [a.filename for a in parsed.attachments] == ["TBZ PARIV GmbH.jpg", "image003.jpg", "UmlautAnhang-äüö.txt"]


def test_bytes_that_look_like_a_part_after_the_close_are_kept_raw():
    junk = 'Content-Type: application/pdf; name="perdu.pdf"\nContent-Transfer-Encoding: base64\n\nJVBERi0xLjQK\n'
    body = f'Content-Type: multipart/mixed; boundary="B"\n\n--B\n{text_part("Bonjour")}--B--\n{junk}'
    parsed = parse_email(assemble(body, "\n"))
    assert parsed.unreadable == ["partie-illisible-1.eml"]
    assert [(a.filename, a.content_type) for a in parsed.attachments] == [("partie-illisible-1.eml", "message/rfc822")]
    assert b"perdu.pdf" in parsed.attachments[0].data and b"JVBERi0xLjQK" in parsed.attachments[0].data


def test_base64_cut_short_is_decoded_as_far_as_it_goes():
    data = b"%PDF-1.4 " + bytes(range(256)) * 3
    encoded = base64.b64encode(data).decode()
    cut = encoded[: len(encoded) - (len(encoded) % 4) - 3]  # a lone character after the last quantum
    body = (
        f'Content-Type: multipart/mixed; boundary="B"\n\n--B\n{text_part("Bonjour")}--B\n'
        f"{file_part('facture.pdf', b'').split(chr(10) + chr(10))[0]}\n\n{cut}\n--B--\n"
    )
    parsed = parse_email(assemble(body, "\n"))
    (attachment,) = parsed.attachments
    assert attachment.filename == "facture.pdf" and data.startswith(attachment.data) and len(attachment.data) > 700
    assert parsed.truncated == ["facture.pdf"]


@st.composite
def well_formed(draw) -> bytes:
    msg = EmailMessage()
    msg["From"] = "claire@example.org"
    msg["Subject"] = "Bien formé"
    msg.set_content(draw(TEXTS))
    if draw(st.booleans()):
        msg.add_alternative("<p>html</p>", subtype="html")
    for name, data in draw(st.lists(st.tuples(NAMES, st.binary(max_size=200)), max_size=3)):
        msg.add_attachment(data, maintype="application", subtype="octet-stream", filename=name + ".bin")
    if draw(st.booleans()):
        inner = EmailMessage()
        inner["Subject"] = "joint"
        inner.set_content("x")
        msg.add_attachment(inner)
    msg.epilogue = draw(st.sampled_from([None, "", "\n", "Fin du message MIME.\n"]))
    for n, part in enumerate(p for p in msg.walk() if p.is_multipart() and p.get_content_maintype() == "multipart"):
        part.set_boundary(f"wf-{n}")  # not the generator's random ones (hypothesis wants its own randomness)
    return msg.as_bytes()


@given(well_formed())
@settings()
def test_well_formed_mail_is_read_as_python_reads_it(raw):
    parsed = parse_email(raw)
    assert parsed.unreadable == [] and parsed.truncated == []
    assert not any(p.startswith(("parts after", "multipart boundary", "attached message")) for p in parsed.problems)
    expected = []
    for part in email.message_from_bytes(raw, policy=compat32).walk():
        if part.get_content_type() == "message/rfc822":
            expected.append("joint.eml")
        elif part.get_filename():
            expected.append(part.get_filename())
    assert sorted(a.filename for a in parsed.attachments) == sorted(expected)


def test_parts_past_the_recovery_cap_are_gathered_into_one_file():
    """A body whose declared boundary never appears, with 250 parts: 200 recovered, the other 50 kept as sent
    in one multipart file (not 50 files, each one more line in the note)."""
    parts = "".join(
        f"--real\nContent-Type: application/octet-stream\nContent-Disposition: attachment; filename=f{i}.bin\n\n"
        f"data {i}\n" for i in range(250)
    )
    raw = (
        "From: a@example.org\nSubject: many\nMIME-Version: 1.0\n"
        f'Content-Type: multipart/mixed; boundary="declared"\n\n{parts}--real--\n'
    ).encode()
    parsed = parse_email(raw)
    assert [a.filename for a in parsed.attachments][:200] == [f"f{i}.bin" for i in range(200)]
    assert parsed.unreadable == ["partie-illisible-1.eml"] and len(parsed.attachments) == 201
    rest = email.message_from_bytes(parsed.attachments[-1].data)
    assert [p.get_filename() for p in rest.get_payload()] == [f"f{i}.bin" for i in range(200, 250)]
    assert [p.get_payload() for p in rest.get_payload()][:2] == ["data 200", "data 201"]


def test_a_text_part_in_base64_cut_short_is_decoded_as_far_as_it_goes():
    """As a file cut short is: the text is shown, not its base64."""
    encoded = base64.b64encode(b"Bonjour, la facture de mars est fausse. Merci.").decode()
    cut = encoded[: (len(encoded) // 4 - 1) * 4 + 1]  # 4k + 1 characters: Python's decoder gives up
    raw = (
        "From: a@example.org\nSubject: coupé\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
        f"Content-Transfer-Encoding: base64\n\n{cut}\n"
    ).encode()
    parsed = parse_email(raw)
    assert parsed.text.startswith("Bonjour, la facture de mars")
    assert "text in base64 cut short" in parsed.problems


def test_an_encoded_word_cut_short_is_decoded_as_far_as_it_goes():
    word = base64.b64encode("Réunion reportée".encode()).decode()
    raw = f"From: a@example.org\nSubject: =?utf-8?b?{word[:-3]}?=\n\nx\n".encode()
    assert parse_email(raw).subject.startswith("Réunion report")
