"""Attachment rules: size and type limits, and how a file is served back."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from lumiodesk.exceptions import InvalidInput

MAX_FILES_PER_MESSAGE = 10  # what an agent, the portal or the contact form attaches to one message
# What one email brings (a customer photographs every page of a contract: 24 pictures): the sender chose them all
# and cannot be asked to pick. Beyond it, the files stay in the stored raw message, downloadable, and a note says so.
MAX_FILES_PER_EMAIL = 50


def max_files(channel: str | None) -> int:
    """How many files one message of this channel may carry."""
    return MAX_FILES_PER_EMAIL if channel == "email" else MAX_FILES_PER_MESSAGE

# Extension -> the content type we serve it with (never the one the sender claimed).
ALLOWED_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".pdf": "application/pdf",
    ".txt": "text/plain",
    ".log": "text/plain",
    ".csv": "text/csv",
    ".json": "application/json",
    ".eml": "message/rfc822",
    ".zip": "application/zip",
    ".doc": "application/msword",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xls": "application/vnd.ms-excel",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".odt": "application/vnd.oasis.opendocument.text",
    ".ods": "application/vnd.oasis.opendocument.spreadsheet",
}
# Types a browser may show inline; everything else is downloaded.
INLINE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain"}
# Magic numbers checked for the types a browser would render.
SIGNATURES = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "image/webp": (b"RIFF",),
    "application/pdf": (b"%PDF-",),
}


@dataclass(frozen=True)
class CheckedFile:
    upload: UploadedFile
    filename: str
    content_type: str
    size: int
    token: str


def safe_filename(name: str) -> str:
    base = os.path.basename((name or "").replace("\\", "/")).strip().replace("\x00", "")
    base = "".join(ch for ch in base if ch.isprintable() and ch not in '<>:"/\\|?*')
    if len(base) > 200:  # a long name keeps its extension (the type check reads it)
        stem, ext = os.path.splitext(base)
        base = stem[: 200 - len(ext[:20])] + ext[:20]
    return base or "fichier"


def check_uploads(uploads: list[UploadedFile], *, limit: int = MAX_FILES_PER_MESSAGE) -> list[CheckedFile]:
    """Validate every file before anything is written; raise InvalidInput on the first bad one. ``limit``: the
    channel's number of files per message (``max_files``)."""
    if len(uploads) > limit:
        raise InvalidInput(_("Au plus %(n)s pièces jointes par message.") % {"n": limit})
    checked = []
    for upload in uploads:
        name = safe_filename(upload.name)
        ext = os.path.splitext(name)[1].lower()
        content_type = ALLOWED_TYPES.get(ext)
        if content_type is None:
            raise InvalidInput(
                _("Type de fichier refusé : %(name)s. Types acceptés : %(types)s.")
                % {"name": name, "types": ", ".join(sorted(e.lstrip(".") for e in ALLOWED_TYPES))}
            )
        if upload.size > settings.ATTACHMENT_MAX_BYTES:
            raise InvalidInput(
                _("Fichier trop volumineux : %(name)s (%(size)s, maximum %(max)s).")
                % {
                    "name": name,
                    "size": filesizeformat(upload.size),
                    "max": filesizeformat(settings.ATTACHMENT_MAX_BYTES),
                }
            )
        if upload.size == 0:
            raise InvalidInput(_("Fichier vide : %(name)s.") % {"name": name})
        signatures = SIGNATURES.get(content_type)
        if signatures:
            upload.seek(0)
            head = upload.read(16)
            upload.seek(0)
            if not any(head.startswith(sig) for sig in signatures):
                raise InvalidInput(
                    _("Le contenu de %(name)s ne correspond pas à son extension.") % {"name": name}
                )
        checked.append(CheckedFile(upload, name, content_type, upload.size, secrets.token_hex(16)))
    return checked
