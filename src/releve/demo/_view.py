"""What the demo shows while it runs (Rich) and the summary it ends with."""

from __future__ import annotations

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ._traffic import Tally

_BREAKER_STYLE = {"closed": "green", "half_open": "yellow", "open": "bold red"}


def live_view(elapsed: float, duration: float, step_title: str, tally: Tally, breakers: dict[str, str],
              journal: list[str], gateway_url: str) -> Panel:
    per_second = tally.rate_last_second()
    targets = Table(expand=True, box=None)
    for column in ("target", "breaker", "req/s now", "served"):
        targets.add_column(column, justify="left" if column in ("target", "breaker") else "right")
    for label, state in breakers.items():
        style = _BREAKER_STYLE.get(state, "")
        targets.add_row(label, Text(state, style=style), str(per_second.get(label, 0)),
                        str(tally.by_target.get(label, 0)))
    done = tally.ok + tally.failed
    success = 100.0 * tally.ok / done if done else 100.0
    figures = Text.assemble(
        ("clients: ", "bold"), f"{tally.sent} sent, {tally.ok} ok, ",
        (f"{tally.failed} failed", "bold red" if tally.failed else "green"),
        f", success {success:.1f} %, p50 {tally.percentile(0.5) * 1000:.0f} ms, "
        f"p99 {tally.percentile(0.99) * 1000:.0f} ms",
    )
    phase = Text.assemble(("now: ", "bold"), (step_title, "cyan"), f"   ({elapsed:4.1f}s / {duration:.0f}s)")
    log = Text("\n".join(journal[-10:]), style="dim")
    return Panel(Group(phase, figures, targets, log), title=f"Relève demo: gateway {gateway_url}",
                 subtitle="route support-assistant: openai → claude (Anthropic API) → local")


def summary(tally: Tally, primary: str, elapsed: float) -> Table:
    table = Table(title="Demo summary", show_header=False, title_justify="left")
    table.add_column("what")
    table.add_column("figure", justify="right")
    fallback = sum(n for label, n in tally.by_target.items() if label != primary)
    table.add_row("requests sent", str(tally.sent))
    table.add_row("served by primary", str(tally.by_target.get(primary, 0)))
    table.add_row("served by fallback", str(fallback))
    table.add_row("failed", Text(str(tally.failed), style="bold red" if tally.failed else "bold green"))
    table.add_row("latency p50", f"{tally.percentile(0.5) * 1000:.1f} ms")
    table.add_row("latency p99", f"{tally.percentile(0.99) * 1000:.1f} ms")
    table.add_row("duration", f"{elapsed:.1f} s")
    for reason, count in tally.failures.most_common():
        table.add_row(f"  failure: {reason}", str(count))
    return table
