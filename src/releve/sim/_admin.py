"""The admin API: set faults and read what the simulator saw, at run time.

These routes are never subject to faults and never counted in the stats, so a
drill can always reach them, even while every API request hangs.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from ._answers import error_body
from ._faults import Fault, parse_fault
from ._requests import UNPARSABLE, load_body
from ._state import SIM

__all__ = ["add_admin_routes", "parse_fault_set"]

_JSON = "application/json"


def parse_fault_set(data: Any) -> tuple[list[Fault], int | None]:
    """Accept one fault object, a list of them, or `{"faults": [...], "seed": n}`."""
    seed = None
    if isinstance(data, dict) and "kind" not in data:
        unknown = sorted(set(data) - {"faults", "seed"})
        if unknown:
            raise ValueError(f"unknown field {unknown[0]!r}: expected 'faults' and optionally 'seed'")
        seed = data.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError(f"field 'seed' must be an integer, got {seed!r}")
        data = data.get("faults", [])
        if not isinstance(data, list):
            raise ValueError(f"field 'faults' must be a list of fault objects, got {type(data).__name__}")
    items = data if isinstance(data, list) else [data]
    faults = []
    for index, item in enumerate(items):
        try:
            faults.append(parse_fault(item))
        except ValueError as exc:
            raise ValueError(f"faults[{index}]: {exc}") from None
    return faults, seed


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type=_JSON)


async def _set_faults(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    body = load_body(await request.read())
    try:
        if body is UNPARSABLE or body is None:
            raise ValueError('the body must be a fault object, a list of them, or {"faults": [...]}')
        faults, seed = parse_fault_set(body)
    except ValueError as exc:
        return web.Response(
            body=error_body(str(exc), "invalid_request_error", "invalid_fault"), status=400, content_type=_JSON
        )
    sim.plan.replace(faults, seed)
    return _json({"faults": sim.plan.describe()})


async def _clear_faults(request: web.Request) -> web.Response:
    request.app[SIM].plan.clear()
    return _json({"faults": []})


async def _list_faults(request: web.Request) -> web.Response:
    return _json({"faults": request.app[SIM].plan.describe()})


async def _stats(request: web.Request) -> web.Response:
    return _json(request.app[SIM].stats.snapshot())


async def _reset_stats(request: web.Request) -> web.Response:
    request.app[SIM].stats.reset()
    return _json({"status": "ok"})


async def _health(request: web.Request) -> web.Response:
    return _json({"status": "ok"})


def add_admin_routes(app: web.Application) -> None:
    app.router.add_post("/_faults", _set_faults)
    app.router.add_delete("/_faults", _clear_faults)
    app.router.add_get("/_faults", _list_faults)
    app.router.add_get("/_stats", _stats)
    app.router.add_post("/_stats/reset", _reset_stats)
    app.router.add_delete("/_stats", _reset_stats)
    app.router.add_get("/_health", _health)
