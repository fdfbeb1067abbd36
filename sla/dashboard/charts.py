"""The geometry of the dashboard's charts, drawn as inline SVG by ``templates/dashboard/_*_chart.html``.

Pure functions of the figures (no query). The SVG has a ``viewBox`` and no fixed width, so it scales down to a
390 px phone screen; each chart has its table beside it (the accessible alternative) and a ``<title>`` per
bar. No JavaScript, no external file: the same markup goes into the PDF.
"""

from __future__ import annotations

from dataclasses import dataclass

# Small view boxes: on a 390 px phone a chart is drawn at about 330 px, so its 14-unit text stays ~11 px.
WIDTH = 420
COLUMNS_WIDTH = 480
BAR_HEIGHT = 22
GAP = 8
LABEL_WIDTH = 140


# The console's colours (static/css/app.css), as SVG fills: the PDF has no stylesheet of the page.
FILLS = {
    "st-new": "#1c7ed6", "st-open": "#f08c00", "st-waiting_customer": "#e8590c", "st-waiting_internal": "#7048e8",
    "opened": "#3b5bdb", "closed": "#2f9e44", "age": "#667085", "bar": "#3b5bdb",
    "score-1": "#e03131", "score-2": "#f76707", "score-3": "#f59f00", "score-4": "#74b816", "score-5": "#2f9e44",
}


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: int
    css: str
    href: str = ""
    text_x: float = 0
    text_y: float = 0

    @property
    def fill(self) -> str:
        return FILLS.get(self.css, FILLS["bar"])


def _nice_max(value: int) -> int:
    """The scale's top: the largest value rounded up to 1, 2 or 5 × a power of ten."""
    if value <= 0:
        return 1
    magnitude = 1
    while magnitude * 10 <= value:
        magnitude *= 10
    for step in (1, 2, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def horizontal(rows: list[dict], *, css: str = "bar") -> dict:
    """One bar per row (``label``, ``n``, optional ``href``), labels on the left, values at the bar's end."""
    top = _nice_max(max((r["n"] for r in rows), default=0))
    span = WIDTH - LABEL_WIDTH - 45
    bars = []
    for i, r in enumerate(rows):
        y = i * (BAR_HEIGHT + GAP)
        width = span * r["n"] / top
        bars.append(Bar(x=LABEL_WIDTH, y=y, width=round(width, 1), height=BAR_HEIGHT, label=str(r["label"]),
                        value=r["n"], css=r.get("css", css), href=r.get("href", ""),
                        text_x=round(LABEL_WIDTH + width + 6, 1), text_y=y + BAR_HEIGHT * 0.7))
    return {"width": WIDTH, "height": max(len(rows) * (BAR_HEIGHT + GAP) - GAP, BAR_HEIGHT), "bars": bars,
            "label_x": LABEL_WIDTH - 8}


def grouped_columns(weeks: list[dict], *, height: int = 200) -> dict:
    """Opened and closed per week: two columns per week, a baseline, the scale's top and week labels."""
    top = _nice_max(max((max(w["opened"], w["closed"]) for w in weeks), default=0))
    left, bottom = 36, 28
    plot_h = height - bottom - 10
    slot = (COLUMNS_WIDTH - left) / max(len(weeks), 1)
    column = min(slot * 0.36, 40)
    groups = []
    for i, w in enumerate(weeks):
        x0 = left + i * slot + (slot - 2 * column) / 2
        bars = []
        for j, (key, css) in enumerate((("opened", "opened"), ("closed", "closed"))):
            h = plot_h * w[key] / top
            bars.append(Bar(x=round(x0 + j * column, 1), y=round(10 + plot_h - h, 1), width=round(column - 2, 1),
                            height=round(h, 1), label=w["week"], value=w[key], css=css, href=w.get(f"{key}_href", "")))
        _y, m, d = w["week"].split("-")  # the week's Monday, read day/month: "10/03"
        groups.append({"bars": bars, "label": f"{d}/{m}", "label_x": round(left + i * slot + slot / 2, 1),
                       "week": w["week"], "show_label": i % max(1, len(weeks) // 12) == 0})
    return {"width": COLUMNS_WIDTH, "height": height, "groups": groups, "top": top, "left": left,
            "baseline": 10 + plot_h, "label_y": height - 8}
