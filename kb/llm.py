"""Optional: let a language model rephrase the assistant's answer. Off by default.

Set ``ASSISTANT_LLM_URL`` (an OpenAI-compatible base URL, e.g. ``http://127.0.0.1:8080/v1``) and,
if needed, ``ASSISTANT_LLM_MODEL`` and ``ASSISTANT_LLM_KEY``. The model only receives the passages
the assistant already chose, is told to use nothing else, and its text is stripped of anything that
looks like a URL: the citations and their links always come from the server. If the endpoint is
slow or fails, the extractive answer is used as it is.
"""

from __future__ import annotations

import json
import logging
import os
import re
import urllib.request

from django.conf import settings

log = logging.getLogger(__name__)
_URL = re.compile(r"(?:https?://|www\.)\S+|\]\([^)]*\)", re.I)


def _setting(name: str, default: str = "") -> str:
    return str(getattr(settings, name, "") or os.environ.get(name, "") or default)


def enabled() -> bool:
    return bool(_setting("ASSISTANT_LLM_URL"))


def rephrase(question: str, quotes: list[str], language: str) -> str | None:
    if not enabled() or not quotes:
        return None
    numbered = "\n".join(f"[{i}] {q}" for i, q in enumerate(quotes, 1))
    system = (
        "You answer customer-support questions using ONLY the numbered passages given. "
        "Do not add any fact that is not in them. Cite passages as [1], [2]. Never write a URL. "
        f"Answer in {'English' if language == 'en' else 'French'}, in at most four sentences."
    )
    payload = {
        "model": _setting("ASSISTANT_LLM_MODEL", "default"),
        "temperature": 0,
        "messages": [
            {"role": "system", "content": system},
            {"role": "user", "content": f"Passages:\n{numbered}\n\nQuestion: {question}"},
        ],
    }
    request = urllib.request.Request(
        _setting("ASSISTANT_LLM_URL").rstrip("/") + "/chat/completions",
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json",
                 **({"Authorization": f"Bearer {_setting('ASSISTANT_LLM_KEY')}"}
                    if _setting("ASSISTANT_LLM_KEY") else {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=float(_setting("ASSISTANT_LLM_TIMEOUT", "6"))) as response:
            data = json.loads(response.read().decode())
        text = data["choices"][0]["message"]["content"].strip()
    except Exception as exc:  # any failure: keep the extractive answer
        log.warning("assistant LLM step failed: %s", exc)
        return None
    text = _URL.sub("", text).strip()
    if not text or not re.search(r"\[\d\]", text):
        return None  # an answer that cites nothing is not used
    return text
