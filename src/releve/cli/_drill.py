"""`releve drill`: game days. Faults injected through a running gateway, the steady state checked, a report.

`drill run` talks to the gateway over HTTP (its address and admin key come
from releve.yaml or the options), so it runs from any machine that can reach
the admin API; `drill demo` (`make drill`) runs the whole thing on simulators.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from releve.cli import ConfigOption, _load, app, console

drill_app = typer.Typer(help="Game days: inject faults through the gateway, check the steady state, write a report.",
                        no_args_is_help=True)
app.add_typer(drill_app, name="drill")

OutOption = Annotated[Path, typer.Option("--out", help="Directory for the journal (JSON) and the report (HTML).")]


def _gateway_url(cfg: Any) -> str:
    """The address `server.listen` serves on, as a client reaches it from this machine."""
    host, port = cfg.server.host, cfg.server.port
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _first_key(entries: Any) -> str | None:
    return next((entry.key for entry in entries.values() if entry.key), None)


def _route_for(cfg: Any, builtin: str, target: str) -> str | None:
    """The first route that sends to `target` (a provider/model, a provider, or for region-outage a region)."""
    for name, route in cfg.routes.items():
        for item in route.targets:
            if builtin == "region-outage":
                if cfg.providers[item.provider].region == target:
                    return str(name)
            elif target in (item.provider, f"{item.provider}/{item.model}"):
                return str(name)
    return None


def _fail(message: str) -> typer.Exit:
    console.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(2)


@drill_app.command("run")
def run(
    experiment: Annotated[Path | None, typer.Argument(help="An experiment file (YAML); or use --builtin.")] = None,
    builtin: Annotated[str | None, typer.Option(help="provider-outage, slow-provider, rate-limit-storm, "
                                                     "stream-cuts or region-outage.")] = None,
    target: Annotated[str | None, typer.Option(help="With --builtin: provider/model, a provider, or (region-outage) "
                                                    "a region.")] = None,
    route: Annotated[str | None, typer.Option(help="With --builtin: the route to drill (default: the first route "
                                                   "that uses --target).")] = None,
    duration: Annotated[str, typer.Option(help="With --builtin: how long the faults last.")] = "30s",
    rate: Annotated[float, typer.Option(help="With --builtin: synthetic requests per second.")] = 5.0,
    ttl: Annotated[str | None, typer.Option(help="With --builtin: how long the faults outlive a drill that dies "
                                                 "(default: duration + 10s, at most 1h).")] = None,
    all_traffic: Annotated[bool, typer.Option("--all-traffic", help="With --builtin: the faults hit every request, "
                                              "not only the drill's own.")] = False,
    url: Annotated[str | None, typer.Option(help="The gateway (default: server.listen of releve.yaml).")] = None,
    admin_key: Annotated[str | None, typer.Option(help="An admin key (default: the first of admins:).",
                                                  envvar="RELEVE_ADMIN_KEY")] = None,
    client_key: Annotated[str | None, typer.Option(help="A client key for the synthetic traffic (default: the first "
                                                        "of clients:).", envvar="RELEVE_CLIENT_KEY")] = None,
    out: OutOption = Path("drills"),
    config: ConfigOption = Path("releve.yaml"),
) -> None:
    """Run a drill: check the steady state, inject the faults, probe, roll back, check again; exit 1 if it failed."""
    import asyncio
    import signal

    from releve.config import parse_duration
    from releve.recovery import (
        DrillRunner,
        ExperimentError,
        builtin_experiment,
        load_experiment,
        print_drill_outcome,
        write_drill,
    )

    cfg = _load(config) if config.exists() else None
    if cfg is not None and cfg.server.workers > 1 and not cfg.shared_state.url:
        raise _fail(f"{config} runs {cfg.server.workers} workers, each with its own fault table: a fault set "
                    "through one would reach a share of the traffic only. Drill with server.workers: 1, or set "
                    "shared_state.url (Redis) so that every worker and replica applies it.")
    if (experiment is None) == (builtin is None):
        raise _fail("give an experiment file or --builtin NAME (one of them)")
    try:
        if experiment is not None:
            chosen = load_experiment(experiment)
        else:
            assert builtin is not None
            if not target:
                raise _fail("--builtin needs --target (provider/model, provider, or region)")
            route = route or (_route_for(cfg, builtin, target) if cfg is not None else None)
            if route is None:
                raise _fail(f"no route found for {target!r}: give --route")
            chosen = builtin_experiment(builtin, target=target, route=route, duration=parse_duration(duration),
                                        rate=rate, drill_only=not all_traffic,
                                        ttl=parse_duration(ttl) if ttl is not None else None)
    except (ExperimentError, ValueError) as exc:
        raise _fail(str(exc)) from None
    if url is None and cfg is None:
        raise _fail(f"no {config}: give --url (and --admin-key, --client-key)")
    url = url or _gateway_url(cfg)
    admin_key = admin_key or (_first_key(cfg.admins) if cfg is not None else None)
    client_key = client_key or (_first_key(cfg.clients) if cfg is not None else None)
    runner = DrillRunner(chosen, url=url, admin_key=admin_key, client_key=client_key, config=cfg,
                         progress=lambda line: console.print(line, highlight=False),
                         notifications=_outbox_reader(cfg) if cfg is not None else None)

    async def drill() -> dict[str, Any]:
        task = asyncio.current_task()
        assert task is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)  # rollbacks run, as on Ctrl-C
        return await runner.run()

    journal = asyncio.run(drill())
    print_drill_outcome(console, journal, write_drill(journal, out))
    raise typer.Exit(int(journal["exit_code"]))


def _outbox_reader(cfg: Any) -> Callable[[str], list[dict[str, Any]]] | None:
    """Notifications the gateway queued for an incident, read from its store (when it is not in memory)."""
    url = str(cfg.storage.url)
    if url in ("sqlite://", "sqlite:///:memory:"):
        return None

    def notifications(incident_id: str) -> list[dict[str, Any]]:
        from releve.store import Store

        store = Store(url)
        store.open()
        try:
            return [{"channel": item.channel, "event": str(item.event), "state": state, "attempts": item.attempts}
                    for item, state in store.notifications(incident_id)]
        finally:
            store.close()

    return notifications


@drill_app.command("demo")
def demo(
    duration: Annotated[float, typer.Option(help="Seconds the primary is broken.")] = 20.0,
    rate: Annotated[float, typer.Option(help="Synthetic requests per second.")] = 10.0,
    out: Annotated[Path | None, typer.Option("--out", help="Directory for the journal and the report (default: a "
                                                           "temporary directory, printed at the end).")] = None,
) -> None:
    """A game day on simulators: a gateway, the provider-outage drill against its primary, the report."""
    from releve.recovery import run_drill_demo

    raise typer.Exit(run_drill_demo(duration=duration, rate=rate, out=out))
