"""The PDF's charts as reportlab drawings: bars of counts under a title (no data crunching here).

`horizontal_bars` suits ranked labels (languages, tags: longest first, read top-down); `vertical_bars`
suits a time series (the 12 months). Counts are integers: the value axis steps by whole numbers and
every bar carries its count, written as the locale writes numbers (`number`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from reportlab.graphics.charts.barcharts import HorizontalBarChart, VerticalBarChart
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors
from reportlab.pdfbase.pdfmetrics import stringWidth

from media.reports.fonts import Typeface

BAR_COLOR = colors.HexColor("#3b6fb6")
TITLE_SIZE = 11
LABEL_SIZE = 7.5
ELLIPSIS = "…"


def _step(top: int) -> int:
    """A whole-number axis step giving about five ticks up to `top` (1, 2, 5 × 10^k)."""
    raw = max(1.0, top / 5)
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= factor * power:
            return int(factor * power)
    return int(10 * power)


def fit(text: str, font: str, size: float, width: float) -> str:
    """`text` cut with an ellipsis so that it is at most `width` points wide."""
    if stringWidth(text, font, size) <= width:
        return text
    while text and stringWidth(text + ELLIPSIS, font, size) > width:
        text = text[:-1]
    return text + ELLIPSIS


def _titled(width: float, height: float, title: str, face: Typeface) -> Drawing:
    drawing = Drawing(width, height)
    drawing.add(String(0, height - TITLE_SIZE, face.drawable(title), fontName=face.bold, fontSize=TITLE_SIZE))
    return drawing


def horizontal_bars(
    title: str, items: Sequence[tuple[str, int]], width: float, face: Typeface, number: Callable[[int], str]
) -> Drawing:
    """One bar per (label, count), the first at the top; labels cut to fit the left margin."""
    label_width = int(min(150.0, width * 0.3))
    plot_height = 12 * max(1, len(items))
    height = plot_height + TITLE_SIZE + 28
    drawing = _titled(width, height, title, face)
    chart = HorizontalBarChart()
    chart.x = label_width + 6
    chart.y = 16
    chart.width = int(width) - chart.x - 30
    chart.height = plot_height
    ordered = list(reversed(items))  # the chart draws its first category at the bottom
    chart.data = [[count for _, count in ordered]]
    chart.categoryAxis.categoryNames = [
        fit(face.drawable(label), face.regular, LABEL_SIZE, label_width) for label, _ in ordered
    ]
    _style(chart, [count for _, count in items], face, number)
    chart.categoryAxis.labels.boxAnchor = "e"
    chart.categoryAxis.labels.dx = -4
    drawing.add(chart)
    return drawing


def vertical_bars(
    title: str, items: Sequence[tuple[str, int]], width: float, face: Typeface, number: Callable[[int], str]
) -> Drawing:
    """One bar per (label, count), left to right (a time series)."""
    plot_height = 110
    height = plot_height + TITLE_SIZE + 40
    drawing = _titled(width, height, title, face)
    chart = VerticalBarChart()
    chart.x = 36
    chart.y = 24
    chart.width = int(width) - chart.x - 6
    chart.height = plot_height
    chart.data = [[count for _, count in items]]
    chart.categoryAxis.categoryNames = [face.drawable(label) for label, _ in items]
    _style(chart, [count for _, count in items], face, number)
    chart.categoryAxis.labels.boxAnchor = "n"
    chart.categoryAxis.labels.dy = -3
    drawing.add(chart)
    return drawing


def _style(
    chart: HorizontalBarChart | VerticalBarChart, counts: Sequence[int], face: Typeface, number: Callable[[int], str]
) -> None:
    top = max(counts, default=0)
    step = _step(top)
    chart.valueAxis.valueMin = 0
    chart.valueAxis.valueMax = max(step, math.ceil(top / step) * step)
    chart.valueAxis.valueStep = step
    chart.valueAxis.labelTextFormat = lambda value: number(round(value))
    chart.valueAxis.labels.fontName = face.regular
    chart.valueAxis.labels.fontSize = LABEL_SIZE
    chart.categoryAxis.labels.fontName = face.regular
    chart.categoryAxis.labels.fontSize = LABEL_SIZE
    chart.bars[0].fillColor = BAR_COLOR
    chart.bars[0].strokeColor = None
    chart.barLabelFormat = lambda value: number(round(value))
    chart.barLabels.fontName = face.regular
    chart.barLabels.fontSize = LABEL_SIZE - 0.5
    chart.barLabels.nudge = 6
