"""Reading a CSV file someone exported from another tool: its encoding, its separator, its rows.

What spreadsheets and helpdesks write: UTF-8 with or without a byte-order mark, Windows-1252 (Excel in
French), separated by ``;`` (Excel in French), ``,`` or a tab. The encoding is UTF-8 when the bytes are valid
UTF-8 (other encodings almost never are), else Windows-1252; the separator is the one of ``;``, ``,`` and tab
that splits the header line into the most columns while every sampled line agrees with it.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from django.utils.translation import gettext as _

from lumiodesk.exceptions import InvalidInput

MAX_BYTES = 20 * 1024 * 1024  # section 16: uploads up to 20 MB
MAX_COLUMNS = 200
SEPARATORS = (";", ",", "\t")
csv.field_size_limit(MAX_BYTES)


@dataclass(frozen=True)
class Table:
    headers: list[str]
    rows: list[list[str]]  # each as long as ``headers`` (short rows padded, extra cells dropped)
    encoding: str
    separator: str

    def records(self) -> list[dict[str, str]]:
        return [dict(zip(self.headers, row, strict=True)) for row in self.rows]


def decode(data: bytes) -> tuple[str, str]:
    """(text, encoding label shown to the user)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace"), "UTF-8 (BOM)"
    try:
        return data.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        pass
    return data.decode("cp1252", errors="replace"), "Windows-1252"


def _split(text: str, separator: str, limit: int | None = None) -> list[list[str]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator, quotechar='"', doublequote=True)
    rows = []
    for row in reader:
        rows.append(row)
        if limit is not None and len(rows) >= limit:
            break
    return rows


def guess_separator(text: str) -> str:
    sample = text[:65536]
    best, best_score = ",", -1
    for separator in SEPARATORS:
        try:
            rows = _split(sample, separator, limit=20)
        except csv.Error:
            continue
        if not rows or len(rows[0]) < 2:
            continue
        width = len(rows[0])
        # Lines cut by the sample's end may be short: compare the complete ones.
        agreeing = sum(1 for row in rows[1:-1] if len(row) == width)
        score = width * 10 + agreeing
        if score > best_score:
            best, best_score = separator, score
    return best


def read_table(data: bytes) -> Table:
    if len(data) > MAX_BYTES:
        raise InvalidInput(_("Fichier trop volumineux : 20 Mo au plus. Découpez-le (par trimestre, par exemple)."))
    if not data.strip():
        raise InvalidInput(_("Le fichier est vide."))
    if b"\x00" in data[:4096]:
        raise InvalidInput(_("Ce fichier n'est pas un CSV (contenu binaire). Exportez-le au format CSV."))
    text, encoding = decode(data)
    separator = guess_separator(text)
    try:
        rows = _split(text, separator)
    except csv.Error as exc:
        raise InvalidInput(_("CSV illisible : %(e)s") % {"e": exc}) from None
    rows = [row for row in rows if any(cell.strip() for cell in row)]
    if not rows:
        raise InvalidInput(_("Le fichier est vide."))
    headers = [h.strip() or _("colonne %(n)s") % {"n": i + 1} for i, h in enumerate(rows[0][:MAX_COLUMNS])]
    seen: dict[str, int] = {}
    for i, h in enumerate(headers):  # two columns of the same name stay two columns
        seen[h] = seen.get(h, 0) + 1
        if seen[h] > 1:
            headers[i] = f"{h} ({seen[h]})"
    width = len(headers)
    body = [(row + [""] * width)[:width] for row in rows[1:]]
    return Table(headers=headers, rows=body, encoding=encoding, separator=separator)
