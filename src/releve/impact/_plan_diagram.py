"""The plan's dependency map: processes → routes → providers, as inline SVG drawn by hand, with a text version.

Hand-drawn because the layout is three columns of boxes and some curves: no graph library is worth
its weight for that, and inline SVG prints crisply in WeasyPrint and needs no JavaScript in a browser.
Every text is escaped here; the template inserts the markup as is.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from markupsafe import Markup, escape

from ._plan_model import Plan, PlanProvider
from ._plan_text import LABELS

__all__ = ["Diagram", "plan_diagram"]

_WIDTH = 720
_BOX_WIDTH = 190
_COLUMNS = (10, 265, 520)      # left edges of the process, route and provider columns
_TOP = 34                      # below the column headings
_GAP = 12
_PORT = 15                     # vertical room per line leaving or entering a box: its order mark must fit
_COLOURS = {                   # fill, stroke
    "process": ("#e9eef5", "#123c69"),
    "route": ("#ffffff", "#4a5568"),
    "allowed": ("#e6f4ea", "#1d6b35"),
    "pseudonymized": ("#fdf3e1", "#8a5a00"),
    "refused": ("#fbe9e7", "#a3261b"),
}


# A line of the diagram: source column, source, target, order mark (or None), dashed.
_Line = tuple[int, str, str, int | None, bool]


@dataclass(frozen=True, slots=True)
class Diagram:
    svg: Markup
    text: tuple[str, ...]   # the same facts as sentences: the diagram's text alternative


@dataclass(frozen=True, slots=True)
class _Box:
    x: float
    y: float
    height: float

    def port(self, index: int, count: int) -> float:
        """The height where line `index` of `count` leaves or enters the box: spread so that lines never merge."""
        return self.y + self.height * (index + 1) / (count + 1)


def _fit(text: str, size: int) -> str:
    chars = 28 if size > 10 else 34   # what fits on one line of a box at 11px or 9px
    return text if len(text) <= chars else text[: chars - 1] + "…"


def _column(heights: list[float], x: float, total: float) -> list[_Box]:
    """Boxes stacked and centred vertically in a column `total` high."""
    top = _TOP + (total - _stacked(heights)) / 2
    boxes = []
    for height in heights:
        boxes.append(_Box(x, top, height))
        top += height + _GAP
    return boxes


def _stacked(heights: list[float]) -> float:
    return sum(heights) + _GAP * max(0, len(heights) - 1)


def _curve(x0: float, y0: float, x1: float, y1: float, *, dashed: bool, number: int | None = None) -> str:
    bend = (x1 - x0) / 2
    dash = ' stroke-dasharray="5 4"' if dashed else ""
    path = (f'<path d="M{x0:.1f},{y0:.1f} C{x0 + bend:.1f},{y0:.1f} {x1 - bend:.1f},{y1:.1f} {x1:.1f},{y1:.1f}" '
            f'fill="none" stroke="#6b7689" stroke-width="1.3"{dash}/>')
    if number is None:
        return path
    # The order in which the route tries this provider, next to where the line leaves the route.
    cx = x0 + 10
    return (path + f'<circle cx="{cx:.1f}" cy="{y0:.1f}" r="5.5" fill="#ffffff" stroke="#6b7689"/>'
            f'<text x="{cx:.1f}" y="{y0 + 3:.1f}" text-anchor="middle" font-size="8">{number}</text>')


def _box(box: _Box, colours: tuple[str, str], lines: list[tuple[str, str]]) -> str:
    """A rounded box with lines of (text, style): "b" bold, "s" small."""
    fill, stroke = colours
    parts = [f'<rect x="{box.x}" y="{box.y:.1f}" width="{_BOX_WIDTH}" height="{box.height:.1f}" rx="5" '
             f'fill="{fill}" stroke="{stroke}" stroke-width="1.2"/>']
    size = {"b": 11, "s": 9}
    used = sum(size[style] + 3 for _, style in lines)
    baseline = box.y + (box.height - used) / 2 + 10
    for text, style in lines:
        weight = ' font-weight="bold"' if style == "b" else ""
        parts.append(f'<text x="{box.x + 8}" y="{baseline:.1f}" font-size="{size[style]}"{weight}>'
                     f'{escape(_fit(text, size[style]))}</text>')
        baseline += size[style] + 3
    return "".join(parts)


def _provider_lines(provider: PlanProvider, labels: dict[str, str]) -> list[tuple[str, str]]:
    region = provider.region or labels["unknown"]
    return [(provider.name, "b"), (f"{labels['region']} {region}", "s"),
            (labels["diagram_policy_" + provider.personal_data], "s")]


def plan_diagram(plan: Plan, language: str) -> Diagram:
    labels = LABELS[language]
    uses = [(process.id, route) for process in plan.processes for route in process.routes]
    tries = [(route.name, provider, order) for route in plan.routes
             for order, provider in enumerate(route.providers, start=1)]
    # Each box is tall enough for its lines' ports.
    out_count = Counter([p for p, _ in uses] + [r for r, _, _ in tries])
    in_count = Counter([r for _, r in uses] + [p for _, p, _ in tries])
    columns = [
        [max(34.0, _PORT * out_count[p.id] + 4) for p in plan.processes],
        [max(30.0, _PORT * max(in_count[r.name], out_count[r.name]) + 4) for r in plan.routes],
        [max(46.0, _PORT * in_count[p.name] + 4) for p in plan.providers],
    ]
    total = max(_stacked(heights) for heights in columns)
    boxes: dict[tuple[int, str], _Box] = {}
    for column, names in enumerate(([p.id for p in plan.processes], [r.name for r in plan.routes],
                                    [p.name for p in plan.providers])):
        for name, box in zip(names, _column(columns[column], _COLUMNS[column], total), strict=True):
            boxes[column, name] = box
    # Lines: (source column, source, target, order or None, dashed), ports given in order of the far end's height.
    lines: list[_Line] = [(0, source, target, None, False) for source, target in uses]
    lines += [(1, source, target, order if out_count[source] > 1 else None, order > 1)
              for source, target, order in tries]
    starts: dict[int, float] = {}
    for (column, source), group in _grouped(lines, lambda line: (line[0], line[1])):
        group.sort(key=lambda i: boxes[column + 1, lines[i][2]].y)
        for rank, i in enumerate(group):
            starts[i] = boxes[column, source].port(rank, len(group))
    ends: dict[int, float] = {}
    for (column, target), group in _grouped(lines, lambda line: (line[0] + 1, line[2])):
        group.sort(key=lambda i: starts[i])
        for rank, i in enumerate(group):
            ends[i] = boxes[column, target].port(rank, len(group))
    height = _TOP + total + 10
    title, desc = escape(labels["diagram_title"]), escape(labels["diagram_text"])
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_WIDTH} {height:.0f}" width="{_WIDTH}" '
             f'height="{height:.0f}" role="img" aria-labelledby="plan-diagram-title" '
             f'aria-describedby="diagram-text" font-family="DejaVu Sans, Arial, sans-serif" fill="#1c2330">'
             f'<title id="plan-diagram-title">{title}</title><desc>{desc}</desc>']
    for x, key in zip(_COLUMNS, ("col_processes", "col_routes", "col_providers"), strict=True):
        parts.append(f'<text x="{x}" y="16" font-size="12" font-weight="bold" fill="#123c69">'
                     f'{escape(labels[key])}</text>')
    # Curves first, boxes over them.
    for i, (column, _, _, number, dashed) in enumerate(lines):
        x0 = _COLUMNS[column] + _BOX_WIDTH
        parts.append(_curve(x0, starts[i], _COLUMNS[column + 1], ends[i], dashed=dashed, number=number))
    for process in plan.processes:
        parts.append(_box(boxes[0, process.id], _COLOURS["process"],
                          [(process.name.get(language), "b"), (process.id, "s")]))
    for route in plan.routes:
        parts.append(_box(boxes[1, route.name], _COLOURS["route"], [(route.name, "b")]))
    for provider in plan.providers:
        parts.append(_box(boxes[2, provider.name], _COLOURS[provider.personal_data],
                          _provider_lines(provider, labels)))
    parts.append("</svg>")
    return Diagram(Markup("".join(parts)), _sentences(plan, language))


def _grouped(lines: list[_Line], key: Callable[[_Line], tuple[int, str]]) -> list[tuple[tuple[int, str], list[int]]]:
    """Indexes of `lines` grouped by `key`, in first-seen order."""
    groups: dict[tuple[int, str], list[int]] = {}
    for index, line in enumerate(lines):
        groups.setdefault(key(line), []).append(index)
    return list(groups.items())


def _sentences(plan: Plan, language: str) -> tuple[str, ...]:
    labels = LABELS[language]
    lines = [labels["uses"].format(process=process.name.get(language), routes=", ".join(process.routes))
             for process in plan.processes]
    for route in plan.routes:
        chain = ", ".join(f"{target.provider} ({target.model})" for target in route.targets)
        lines.append(labels["tries"].format(route=route.name, chain=chain))
    for provider in plan.providers:
        lines.append(labels["provider_line"].format(name=provider.name, region=provider.region or labels["unknown"],
                                                    policy=labels["policy_" + provider.personal_data]))
    return tuple(lines)
