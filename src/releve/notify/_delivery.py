"""What a sender is given and how it says it failed: the seam between the notifier and the channels."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import aiohttp

from releve.errors import ReleveError
from releve.store import Incident, IncidentUpdate, NotificationEvent

__all__ = ["Delivery", "DeliveryError", "Sender"]


@dataclass(frozen=True, slots=True)
class Delivery:
    """One outbox item resolved into what it talks about.

    `incident` is the incident as it is now; `update` is the update the event is about.
    `id` is the outbox item's id, the same on every retry, so receivers can drop duplicates.
    """

    id: int
    event: NotificationEvent
    incident: Incident
    update: IncidentUpdate
    at: datetime        # wall-clock time of this attempt (the signature's timestamp)


class DeliveryError(ReleveError):
    """A delivery failed. `permanent`: trying again cannot help (a 4xx, a malformed URL).

    The message is stored and logged: it must never contain the channel's URL (it may hold a
    token) nor a secret. `retry_after`: seconds the receiver asked us to wait (429 Retry-After).
    """

    def __init__(self, message: str, *, permanent: bool = False, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.retry_after = retry_after


class Sender(Protocol):
    """Delivers to one channel. Returns when delivered; raises `DeliveryError` otherwise."""

    async def send(self, delivery: Delivery, http: aiohttp.ClientSession) -> None: ...
