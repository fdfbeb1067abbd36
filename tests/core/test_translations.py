"""The English catalogue: every French string translated, none fuzzy (gettext skips fuzzy entries, so the
English interface would show French), and the same placeholders on both sides."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from django.conf import settings

CATALOGUE = Path(settings.BASE_DIR) / "locale" / "en" / "LC_MESSAGES" / "django.po"
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]|\{(\w+)\}")


def entries(path: Path) -> list[dict]:
    """msgid / msgstr (msgstr[0] for plurals) and flags of each entry, header excluded."""
    out, current, key = [], None, None
    for line in path.read_text(encoding="utf-8").splitlines() + [""]:
        if not line.strip():
            if current and current.get("msgid"):
                out.append(current)
            current, key = None, None
            continue
        current = current or {"flags": "", "msgid": "", "msgstr": ""}
        if line.startswith("#,"):
            current["flags"] += line
        elif line.startswith("#"):
            continue
        elif line.startswith(("msgid ", "msgstr ", "msgstr[0] ", "msgid_plural ", "msgstr[")):
            name, _sp, value = line.partition(" ")
            key = {"msgid": "msgid", "msgstr": "msgstr", "msgstr[0]": "msgstr"}.get(name)
            if key:
                current[key] += ast.literal_eval(value)
        elif line.startswith('"') and key:
            current[key] += ast.literal_eval(line)
    return out


ENTRIES = entries(CATALOGUE)


def test_the_catalogue_is_read():
    assert len(ENTRIES) > 500


def test_nothing_fuzzy_or_untranslated():
    fuzzy = [e["msgid"][:60] for e in ENTRIES if "fuzzy" in e["flags"]]
    empty = [e["msgid"][:60] for e in ENTRIES if not e["msgstr"]]
    assert fuzzy == [] and empty == []


@pytest.mark.parametrize("entry", [e for e in ENTRIES if PLACEHOLDER.search(e["msgid"])], ids=lambda e: e["msgid"][:40])
def test_placeholders_are_kept(entry):
    def names(text):
        return sorted(a or b for a, b in PLACEHOLDER.findall(text))

    assert names(entry["msgstr"]) == names(entry["msgid"])
