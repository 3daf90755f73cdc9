"""The drill's journal on disk (JSON) and as a report people read (HTML: inline CSS and SVG, no JavaScript).

The report is rendered from the journal alone, so a journal kept from last
quarter's game day renders the same report again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
import orjson

__all__ = ["render_drill_report", "write_drill"]

_WIDTH, _HEIGHT, _LEFT, _BOTTOM, _TOP = 900, 240, 48, 28, 10
_COLOURS = {"primary": "#228833", "fallback": "#4477AA", "degraded": "#CCBB44", "failed": "#CC3311"}
_STATUS = {"completed": "The hypothesis held", "deviated": "The hypothesis did not hold",
           "aborted": "The drill could not run", "interrupted": "The drill was interrupted"}


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("releve.recovery", "templates"), autoescape=True,
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def _seconds(value: Any) -> str:
    if value is None:
        return "—"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def _duration(value: Any) -> str:
    """A TTL or a length: `40 s`, `2 min`."""
    if value is None:
        return "—"
    return f"{value / 60:g} min" if value >= 120 and value % 60 == 0 else f"{value:g} s"


def _when(value: Any) -> str:
    """`2026-03-01 10:00:40 UTC` from the journal's ISO times (which keep the microseconds)."""
    if not isinstance(value, str) or len(value) < 19:
        return "—" if value is None else str(value)
    return f"{value[:10]} {value[11:19]} UTC"


def _outcome(sample: Sequence[Any], primary: str | None) -> str:
    _, _, _, status, target, degraded, error = sample
    if degraded:
        return "degraded"
    if status != 200 or error or not target:
        return "failed"
    return "primary" if target == primary else "fallback"


def _timeline(journal: Mapping[str, Any]) -> dict[str, Any]:
    """Each request as a dot: when it was sent (x) and how long it took (y), coloured by who answered."""
    samples = journal.get("samples") or []
    primary = journal.get("primary")
    end = max((s[2] for s in samples), default=1.0) or 1.0
    slowest = max((s[2] - s[1] for s in samples), default=0.0)
    top = max(0.5, slowest * 1.1)
    plot_w, plot_h = _WIDTH - _LEFT - 10, _HEIGHT - _BOTTOM - _TOP

    def x(seconds: float) -> float:
        return round(_LEFT + plot_w * seconds / end, 1)

    def y(seconds: float) -> float:
        return round(_TOP + plot_h * (1 - min(seconds, top) / top), 1)

    dots = [{"x": x(s[1]), "y": y(s[2] - s[1]), "colour": _COLOURS[_outcome(s, primary)],
             "label": f"{s[0]} +{s[1]:.2f}s: {_outcome(s, primary)} ({s[4] or s[6] or s[3]}), {_seconds(s[2] - s[1])}"}
            for s in samples]
    band = None
    if journal.get("fault_started") is not None and journal.get("fault_ended") is not None:
        left, right = x(journal["fault_started"]), x(journal["fault_ended"])
        band = {"x": left, "width": round(max(1.0, right - left), 1)}
    ticks = [{"x": x(end * i / 5), "label": f"{end * i / 5:.0f}s"} for i in range(6)]
    levels = [{"y": y(top * i / 4), "label": _seconds(top * i / 4)} for i in range(5)]
    return {"width": _WIDTH, "height": _HEIGHT, "left": _LEFT, "bottom": _HEIGHT - _BOTTOM, "top": _TOP,
            "right": _WIDTH - 10, "dots": dots, "band": band, "ticks": ticks, "levels": levels,
            "legend": list(_COLOURS.items())}


def render_drill_report(journal: Mapping[str, Any]) -> str:
    status = journal.get("status", "aborted")
    hypothesis = journal.get("hypothesis") or {}
    phases = [hypothesis[p] for p in ("before", "during", "after") if p in hypothesis]
    rollbacks = {r["fault"]: r for r in journal.get("rollbacks", [])}
    faults = [{**fault, "rollback": rollbacks.get(fault["id"], {})} for fault in journal.get("faults", [])]
    requests = journal.get("requests") or {}
    detection = journal.get("detection") or {}
    cost = journal.get("cost") or {"computed": False, "note": "not computed"}
    return _environment().get_template("drill_report.html").render(
        journal=journal, experiment=journal["experiment"], status=status, verdict=_STATUS.get(status, status),
        hypothesis=hypothesis, phases=phases, faults=faults, requests=requests, detection=detection,
        notifications=journal.get("notifications") or {}, cost=cost, seconds=_seconds, duration=_duration,
        when=_when,
        timeline=_timeline(journal), notes=journal.get("notes", []),
        experiment_json=orjson.dumps(journal["experiment"], option=orjson.OPT_INDENT_2).decode())


def write_drill(journal: Mapping[str, Any], directory: Path) -> dict[str, Path]:
    """`<drill>.json` and `<drill>.html` in `directory`; their paths by format."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = {"json": directory / f"{journal['drill']}.json", "html": directory / f"{journal['drill']}.html"}
    paths["json"].write_bytes(orjson.dumps(journal, option=orjson.OPT_INDENT_2))
    paths["html"].write_text(render_drill_report(journal), encoding="utf-8")
    return paths
