"""The email parser over the hand-made corpus (tests/tickets/email/email_corpus/, see its README.md).

``parse_email`` never raises; each file's expected subject, sender, text, attachments and
automatic-mail reason are checked as real decoded strings. No database: pure parsing.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from tickets.email.parsing import decode_bytes, decode_header_value, parse_email, split_quoted

CORPUS = Path(__file__).parent / "email_corpus"
CLAIRE = ("Claire Dupont", "claire.dupont@example.com")

# file -> what parse_email must find. Keys: subject, sender (name, address), text (substrings that must be
# in the plain text, or "" for no text), not_text (substrings that must not), html (substring), attachments
# ([(filename, content type)] in order), inline ({filename: content_id}), auto (substring of auto_reason, ""
# for a human message), message_id, problems (substring of one of the problems).
EXPECTED: dict[str, dict] = {
    "plain_ascii.eml": dict(
        subject="Printer on fire", sender=CLAIRE, text=["My printer is on fire."], message_id="plain-ascii@example.com"
    ),
    "plain_utf8_lf.eml": dict(
        subject="Problème de facture",
        sender=("Renée Martin", "renee.martin@example.org"),
        text=["Je n'ai pas reçu ma facture de février.", "Renée"],
        message_id="orig-1@example.org",
    ),
    # --- charsets
    "charset_iso8859_1.eml": dict(subject="Réclamation", text=["Ça coûte très cher, déjà payé."]),
    "charset_win1252_labelled_latin1.eml": dict(text=["Le montant est de 50 € – l’abonnement “Pro”…"]),
    "charset_invalid_utf8.eml": dict(text=["Un café crème, s'il vous plaît."]),
    "charset_utf8_broken_byte.eml": dict(text=["Merci pour votre réponse, déjà reçu."]),
    "charset_us_ascii_8bit.eml": dict(text=["Facture de décembre réglée."]),
    "charset_koi8r.eml": dict(
        subject="Проблема с оплатой",
        sender=("Иван Петров", "ivan@example.ru"),
        text=["Здравствуйте, не проходит оплата."],
    ),
    "charset_shift_jis.eml": dict(subject="請求書について", text=["請求書が届きません。"]),
    "charset_gb2312.eml": dict(subject="发票问题", text=["您好，我的发票有问题。朱镕基"]),
    "charset_ks_c_5601.eml": dict(subject="청구서 문의", text=["안녕하세요. 청구서가 두 번 왔습니다."]),
    "charset_unknown_label.eml": dict(text=["Voilà le problème."]),
    "charset_python_codec_trap.eml": dict(subject="Piègecafé", text=["Corps en UTF-8, étiquette absurde."]),
    "charset_utf16_base64.eml": dict(text=["Bonjour en UTF-16 : ça marche."]),
    # --- RFC 2047 / raw 8-bit headers
    "rfc2047_subject_b.eml": dict(subject="Problème de facture", sender=("Renée Martin", "renee.martin@example.org")),
    "rfc2047_subject_q_broken.eml": dict(subject="Problème de facture =?utf-8?q?=E2=82=AC?"),
    "rfc2047_mixed_charsets.eml": dict(subject="Re: café et crème €"),
    "header_raw_utf8.eml": dict(subject="Problème de facture", sender=("Renée Martin", "renee.martin@example.org")),
    "header_raw_latin1.eml": dict(
        subject="Réclamation urgente", sender=("Hélène Faure", "helene.faure@example.fr"), text=["Très urgent."]
    ),
    "from_encoded_comma.eml": dict(sender=("Dupont, Renée", "renee.dupont@example.org")),
    "from_spoof_encoded_address.eml": dict(
        sender=("claire.dupont@example.com,", "mallory@evil.test"), subject="Re: Facture en double [#1]"
    ),
    "long_display_name.eml": dict(sender=(("Jean-Baptiste Emmanuel Zorg " * 7).strip(), "jbz@example.fr")),
    # --- file names
    "rfc2231_filename.eml": dict(
        text=["Ci-joint la facture."], attachments=[("facture février 2025.pdf", "application/pdf")]
    ),
    "rfc2231_continuations.eml": dict(attachments=[("relevé de compte décembre.pdf", "application/pdf")]),
    "rfc2047_filename_outlook.eml": dict(attachments=[("reçu.pdf", "application/pdf")]),
    "filename_raw_utf8.eml": dict(attachments=[("récépissé.pdf", "application/pdf")]),
    # --- structure
    "nested_multipart.eml": dict(
        text=["Voir la capture ci-dessous.\nMerci."],
        html="<b>capture</b>",
        attachments=[
            ("piece-jointe.png", "image/png"),
            ("devis.pdf", "application/pdf"),
            ("journal.log", "text/plain"),
        ],
        inline={"piece-jointe.png": "shot@example.fr"},
    ),
    "alternative_html_only.eml": dict(text="", html="Le <b>paiement</b> a échoué."),
    "html_with_script.eml": dict(text="", html="<script>alert('xss')</script>"),
    "inline_image_cid.eml": dict(
        text="",
        html='src="cid:err@example.fr"',
        attachments=[("piece-jointe.png", "image/png")],
        inline={"piece-jointe.png": "err@example.fr"},
    ),
    "attachment_pdf.eml": dict(text=["Voici le devis signé."], attachments=[("devis-signe.pdf", "application/pdf")]),
    "attachment_exe_refused.eml": dict(attachments=[("setup.exe", "application/x-msdownload")]),
    "forwarded_message_rfc822.eml": dict(
        text=["Je vous transfère le message de Bob."],
        not_text=["Inner body"],
        attachments=[("Original question.eml", "message/rfc822")],
    ),
    "multipart_no_boundary.eml": dict(text=["Texte sans frontiere MIME."], problems="NoBoundaryInMultipart"),
    # --- threading
    "thread_in_reply_to.eml": dict(subject="Re: Problème de facture", text=["Toujours rien reçu."]),
    "thread_references_only.eml": dict(subject="Re: Suite"),
    "thread_subject_token.eml": dict(subject="RE: Facture en double [#1]", sender=CLAIRE),
    "thread_subject_token_wrong_sender.eml": dict(sender=("Intrus", "intrus@example.net")),
    # --- dedup
    "no_message_id.eml": dict(message_id="", text=["Pas de Message-ID ici."]),
    "duplicate_a.eml": dict(message_id="dup-1@example.fr"),
    "duplicate_b.eml": dict(message_id="dup-1@example.fr"),
    "cc_two_mailboxes.eml": dict(sender=CLAIRE),
    # --- automatic mail
    "auto_submitted.eml": dict(auto="Auto-Submitted: auto-replied"),
    "precedence_bulk.eml": dict(auto="Precedence: bulk"),
    "x_autoreply.eml": dict(auto="auto-reply header"),
    "null_sender_bounce.eml": dict(auto="null sender"),
    "mailer_daemon_dsn.eml": dict(auto="mailer-daemon@mx.example.com", text=["failed permanently"]),
    "list_id.eml": dict(auto="mailing list"),
    "own_message_looped.eml": dict(message_id="loop-test-0001@lumiodesk.local", sender=("Acme", "support@acme.test")),
    # --- quotes and signatures
    "outlook_quote_fr.eml": dict(text=["Merci, c'est réglé.", "De : mon côté", "Envoyé : lundi 3 mars 2025"]),
    "gmail_quote_en.eml": dict(text=["Thanks, it works now!", "> Please restart the router."]),
    "html_gmail_reply.eml": dict(
        text=["Merci, l'export fonctionne maintenant.", "> Pouvez-vous réessayer l'export ?"],
        html='class="gmail_quote"', message_id="html-gmail-reply@example.com",
    ),
    "html_outlook_reply.eml": dict(
        text="", html="C'est débloqué, <i>merci</i> !", sender=("Marc Petit", "marc.petit@example.fr")
    ),
    "signature_dashes.eml": dict(text=["Pouvez-vous m'appeler ?", "Directrice financière"]),
    # --- damaged
    "malformed_headers.eml": dict(
        subject="Mal forme",
        sender=CLAIRE,
        text=["Corps du message malgre tout."],
        problems="MissingHeaderBodySeparator",
    ),
    "missing_from.eml": dict(sender=("", ""), subject="Qui suis-je ?"),
    "sender_header_only.eml": dict(sender=("Assistant", "assistant@example.fr")),
    "from_invalid_address.eml": dict(sender=("", "")),
    "empty_body.eml": dict(subject="Vide", text=""),
    "huge_header.eml": dict(text=["Corps normal."]),
    "binary_garbage.eml": dict(sender=("", ""), subject="", message_id="", problems="MissingHeaderBodySeparator"),
    "base64_broken_padding.eml": dict(text=["Texte encodé en base64 sans remplissage, oups"]),
    "quoted_printable_soft_breaks.eml": dict(
        text=["Une très longue ligne coupée par un saut doux au milieu d'un caractère, suivie d'une fin normale."]
    ),
    "date_invalid.eml": dict(problems="bad Date header"),
    "nul_bytes.eml": dict(subject="NUL dans le sujet", text=["Du texte avec des NUL."]),
}

CORPUS_FILES = sorted(p.name for p in CORPUS.glob("*.eml"))


def parsed(name: str):
    return parse_email((CORPUS / name).read_bytes())


def test_corpus_is_documented():
    readme = (CORPUS / "README.md").read_text()
    listed = set(re.findall(r"^\| `([\w.-]+)` \|", readme, re.M))
    files = {p.name for p in CORPUS.iterdir() if p.suffix in (".eml", ".mbox")}
    assert len(CORPUS_FILES) >= 45
    assert files == listed
    assert set(CORPUS_FILES) == set(EXPECTED)


def test_corpus_has_both_line_endings():
    raws = [(CORPUS / n).read_bytes() for n in CORPUS_FILES]
    assert sum(b"\r\n" in r for r in raws) >= 40
    assert sum(b"\n" in r and b"\r\n" not in r for r in raws) >= 2


@pytest.mark.parametrize("name", CORPUS_FILES)
def test_corpus_file(name):
    p = parsed(name)  # never raises
    exp = EXPECTED[name]
    assert "\x00" not in p.subject + p.text + p.html + p.from_name
    assert not re.search("[\ud800-\udfff]", p.subject + p.text + p.html + p.from_name)  # storable in PostgreSQL
    if "subject" in exp:
        assert p.subject == exp["subject"]
    if "sender" in exp:
        assert (p.from_name, p.from_email) == exp["sender"]
    if "text" in exp:
        if exp["text"] == "":
            assert p.text.strip() == ""
        for fragment in exp["text"]:
            assert fragment in p.text
    for fragment in exp.get("not_text", []):
        assert fragment not in p.text
    if "html" in exp:
        assert exp["html"] in p.html
    if "attachments" in exp:
        assert [(a.filename, a.content_type) for a in p.attachments] == exp["attachments"]
        assert all(a.data for a in p.attachments)
    else:
        assert p.attachments == []
    for filename, cid in exp.get("inline", {}).items():
        att = next(a for a in p.attachments if a.filename == filename)
        assert att.inline and att.content_id == cid
    assert exp.get("auto", "") in p.auto_reason
    assert bool(p.auto_reason) == bool(exp.get("auto"))
    if "message_id" in exp:
        assert p.message_id == exp["message_id"]
    if "problems" in exp:
        assert any(exp["problems"] in problem for problem in p.problems), p.problems


def test_threading_headers():
    p = parsed("thread_in_reply_to.eml")
    assert p.in_reply_to == ["orig-1@example.org"]
    assert p.thread_ids == ["orig-1@example.org"]
    p = parsed("thread_references_only.eml")
    assert p.in_reply_to == []
    # The nearest ancestor (last in References) is tried first.
    assert p.thread_ids == ["orig-1@example.org", "unknown-root@elsewhere.test"]
    p = parsed("huge_header.eml")
    # 300 References: the root and the 99 nearest ancestors are kept, the nearest tried first.
    assert len(p.references) == 100
    assert p.references[:2] == ["ref-0@example.fr", "ref-201@example.fr"]
    assert p.thread_ids[0] == "ref-299@example.fr"
    assert p.subject.startswith("Long sujet tres long sujet") and len(p.subject) == 255


def test_dates():
    assert parsed("plain_ascii.eml").date.isoformat() == "2025-03-03T10:15:00+01:00"
    assert parsed("date_invalid.eml").date is None


def test_attachment_bytes_are_decoded():
    p = parsed("attachment_pdf.eml")
    assert p.attachments[0].data.startswith(b"%PDF-1.4")
    p = parsed("inline_image_cid.eml")
    assert p.attachments[0].data.startswith(b"\x89PNG\r\n\x1a\n")
    fwd = parsed("forwarded_message_rfc822.eml").attachments[0].data
    inner = parse_email(fwd)  # the forwarded message is kept whole, as an .eml
    assert inner.subject == "Original question"
    assert inner.from_email == "bob@example.net"
    assert "Inner body that must not be mixed" in inner.text


def test_to_and_cc():
    p = parsed("cc_two_mailboxes.eml")
    assert p.to == ["support@acme.test"]
    assert p.cc == ["sales@acme.test"]


def test_spoofed_address_in_encoded_name_is_not_the_sender():
    """An encoded display name holding an address and a comma must not become the sender."""
    p = parsed("from_spoof_encoded_address.eml")
    assert p.from_email == "mallory@evil.test"


# --- split_quoted -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "new", "quoted_start"),
    [
        (
            "outlook_quote_fr.eml",
            "Merci, c'est réglé.\n\nDe : mon côté, plus rien à signaler.",
            "________________________________\nDe : Support Acme <support@acme.test>\nEnvoyé : lundi",
        ),
        ("gmail_quote_en.eml", "Thanks, it works now!", "On Mon, Mar 3, 2025 at 10:15 AM Acme Support <"),
        ("thread_in_reply_to.eml", "Toujours rien reçu.", "Le lun. 3 mars 2025 à 10:15, Renée"),
        ("signature_dashes.eml", "Pouvez-vous m'appeler ?", "-- \nClaire Dupont\nDirectrice financière"),
        ("plain_ascii.eml", "Hello,\n\nMy printer is on fire. Please help.\n\nClaire", ""),
    ],
)
def test_split_quoted_on_corpus(name, new, quoted_start):
    got_new, got_quoted = split_quoted(parsed(name).text.strip())
    assert got_new == new
    assert got_quoted.startswith(quoted_start)
    if quoted_start:
        assert new not in got_quoted


@pytest.mark.parametrize(
    ("text", "new", "quoted"),
    [
        ("Oui.\n\n-----Original Message-----\nFrom: a\nancien", "Oui.", "-----Original Message-----\nFrom: a\nancien"),
        ("Oui.\n\n-----Message d'origine-----\nDe : a\nancien", "Oui.", "-----Message d'origine-----\nDe : a\nancien"),
        # answers between quotes stay visible; only the trailing quoted block is folded
        (
            "Voir plus bas\n> cité\nma réponse au milieu\n> encore",
            "Voir plus bas\n> cité\nma réponse au milieu",
            "> encore",
        ),
        ("From: my side, nothing new.\nBye", "From: my side, nothing new.\nBye", ""),  # first line is never cut
        ("Merci\nFrom: ma part\nà bientôt", "Merci\nFrom: ma part\nà bientôt", ""),  # a sentence, not a header block
        (
            "Ok\n\nLe 3 mars 2025 à 10:15, Support <s@acme.test> a\u202fécrit\u00a0:\n> x",
            "Ok",
            "Le 3 mars 2025 à 10:15, Support <s@acme.test> a\u202fécrit\u00a0:\n> x",
        ),
        ("", "", ""),
    ],
)
def test_split_quoted(text, new, quoted):
    assert split_quoted(text) == (new, quoted)


def test_split_quoted_is_linear_on_long_quotes():
    text = "Réponse\n" + "> ligne\n" * 50_000 + "fin"
    new, quoted = split_quoted(text)  # a quadratic scan would take minutes here
    assert new == text.strip() and quoted == ""


# --- helpers ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "label", "expected"),
    [
        ("Renée".encode(), "utf-8", "Renée"),
        ("Renée".encode("latin-1"), "utf-8", "Renée"),  # invalid UTF-8: windows-1252
        ("€".encode("cp1252"), "iso-8859-1", "€"),  # windows-1252 labelled latin-1
        ("Renée".encode(), "iso-8859-1", "Renée"),  # UTF-8 labelled latin-1
        (b"\x81", "iso-8859-1", "\x81"),  # not windows-1252 either: latin-1 never fails
        ("Renée".encode(), "no-such-charset", "Renée"),
        ("Renée".encode(), '"UTF-8"', "Renée"),
        ("Renée".encode(), "utf-8*fr", "Renée"),
        (b"abc", "undefined", "abc"),  # a codec that always raises UnicodeError
        (b"abc", "rot13", "abc"),  # not a text codec
        # Python's escape codecs are no MIME charset: the backslashes stay as they were written.
        (b"\\ud800", "unicode_escape", "\\ud800"),
        (b"C:\\Sales\\x41", "raw_unicode_escape", "C:\\Sales\\x41"),
        ("Перевод".encode("koi8-r"), "KOI8-R", "Перевод"),
    ],
)
def test_decode_bytes(data, label, expected):
    assert decode_bytes(data, label) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("=?utf-8?q?Ren=C3=A9e?=", "Renée"),
        ("=?UTF-8?B?UmVuw6ll?=", "Renée"),
        ("=?utf-8?b?UmVuw6ll?= =?utf-8?b?IE1hcnRpbg==?=", "Renée Martin"),  # blanks between words dropped
        ("=?utf-8?q?Ren=C3?= =?utf-8?q?=A9e?=", "Renée"),  # a character split between two words
        ("Re: =?iso-8859-1?q?=80uro?=", "Re: €uro"),  # windows-1252 labelled latin-1, in a header too
        ("=?utf-8?b?UmVuw6l?=", "René"),  # missing padding
        ("=?utf-8?b?UmVuw6llX?=", "Renée"),  # one sextet too many
        ("=?utf-8*fr?q?Ren=C3=A9e?=", "Renée"),  # RFC 2231 language
        ("=?bogus?q?Ren=C3=A9e?=", "Renée"),
        ("plain\r\n\tfolded", "plain folded"),
        ("Probl\udcc3\udca8me", "Problème"),  # raw 8-bit UTF-8 as the parser hands it over
        ("Probl\udce8me", "Problème"),  # raw 8-bit latin-1
        (None, ""),
    ],
)
def test_decode_header_value(raw, expected):
    assert decode_header_value(raw) == expected


def test_a_text_declared_base64_that_is_plain_words_is_not_decoded_into_noise():
    html = base64.b64encode(b"<p>Bonjour, la facture est fausse.</p>").decode()
    twins = (
        b"From: a@client.test\r\nSubject: x\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/alternative; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        b"Bonjour  la facture est fausse, merci de la corriger.\r\nCordialement, Anne\r\n"
        b"--b\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + html.encode() + b"\r\n--b--\r\n"
    )
    parsed = parse_email(twins)
    assert parsed.text == "" and "la facture est fausse" in parsed.html  # the HTML twin is what a client shows
    assert "text declared base64 is not base64" in parsed.problems
    alone = (
        b"From: a@client.test\r\nSubject: x\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\nBonjour, la facture est fausse.\r\n"
    )
    assert parse_email(alone).text.strip() == "Bonjour, la facture est fausse."  # no other text: the words
    real = b"From: a@client.test\r\nSubject: x\r\nContent-Type: text/plain; charset=utf-8\r\n" \
        b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.encodebytes("Réel, décodé.".encode())
    assert parse_email(real).text.strip() == "Réel, décodé."


def test_a_named_inline_html_part_alone_is_the_message():
    raw = (
        b"From: a@client.test\r\nSubject: x\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n"
        b"Content-Disposition: inline; filename=test.html\r\n\r\n<p>Le <b>widget</b> ne charge plus.</p>\r\n"
    )
    parsed = parse_email(raw)
    assert "widget" in parsed.html and parsed.attachments == []
