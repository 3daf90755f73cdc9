"""Synthetic probes: a cheap request to each provider on a timer, so an outage shows even without traffic.

`models` lists the provider's models (free everywhere we know) once per
provider and counts for each of its targets; `completion` asks each target's
model for one token, which also proves the model itself answers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from releve.clock import Clock
from releve.config import ProbeConfig, ProbeRequest
from releve.errors import ReleveError
from releve.gateway.providers import Operation, ProviderTransport, UpstreamCall

__all__ = ["ProbePlan", "Prober", "plan_probes"]

logger = logging.getLogger("releve.monitor")

ProbeResult = Callable[[Sequence[str], bool, str, float], None]  # (target labels, ok, detail, at)


@dataclass(frozen=True, slots=True)
class ProbePlan:
    """One probe: what to send, to which provider, on behalf of which targets."""

    provider: str
    model: str | None          # None: list models
    targets: tuple[str, ...]
    config: ProbeConfig


def plan_probes(targets: Sequence[tuple[str, str, str]], configs: Mapping[str, ProbeConfig]) -> list[ProbePlan]:
    """`targets`: (provider, model, label) for every distinct target; `configs`: the probe settings per provider."""
    plans: list[ProbePlan] = []
    by_provider: dict[str, list[str]] = {}
    for provider, model, label in targets:
        config = configs[provider]
        if config.request is ProbeRequest.COMPLETION:
            plans.append(ProbePlan(provider, model, (label,), config))
        elif config.request is ProbeRequest.MODELS:
            by_provider.setdefault(provider, []).append(label)
    plans += [ProbePlan(provider, None, tuple(labels), configs[provider]) for provider, labels in by_provider.items()]
    return plans


class Prober:
    def __init__(self, plans: Sequence[ProbePlan], transports: Mapping[str, ProviderTransport], clock: Clock,
                 on_result: ProbeResult) -> None:
        self._plans = plans
        self._transports = transports
        self._clock = clock
        self._on_result = on_result
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        """Start the probes' loops; again after `close()` too (a process that becomes the lead again)."""
        if self._tasks:
            return
        for index, plan in enumerate(self._plans):
            # Staggered over the first interval, so that probes of many providers do not leave in one burst.
            offset = plan.config.every * (index + 1) / len(self._plans)
            self._tasks.append(asyncio.create_task(self._loop(plan, offset), name=f"releve-probe-{plan.provider}"))

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    async def probe(self, plan: ProbePlan) -> tuple[bool, str]:
        transport = self._transports[plan.provider]
        try:
            async with asyncio.timeout(plan.config.timeout):
                if plan.model is None:
                    await transport.list_models()
                else:
                    body = {"messages": [{"role": "user", "content": "ping"}], "max_tokens": 1}
                    await transport.send(UpstreamCall(Operation.CHAT, body, plan.model))
        except TimeoutError:
            return False, f"probe timed out after {plan.config.timeout:g}s"
        except ReleveError as exc:
            return False, str(exc)
        return True, "ok"

    async def _loop(self, plan: ProbePlan, offset: float) -> None:
        await asyncio.sleep(offset)
        while True:
            ok, detail = await self.probe(plan)
            if not ok:
                logger.info("probe of %s failed: %s", plan.provider, detail)
            self._on_result(plan.targets, ok, detail, self._clock.now())
            await asyncio.sleep(plan.config.every)
