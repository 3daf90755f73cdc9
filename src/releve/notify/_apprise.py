"""Apprise: mail, Slack, Teams, Matrix, ntfy… each configured by one URL.

One `Apprise` object per URL, so that a failure is charged to its own channel. Apprise is
synchronous (requests underneath): `notify()` runs in a worker thread, off the event loop.
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Sequence

import aiohttp
import apprise

from releve.store import Impact, NotificationEvent

from ._delivery import Delivery, DeliveryError
from ._message import text_message

__all__ = ["AppriseSender"]


def _notify_type(delivery: Delivery) -> apprise.NotifyType:
    """The colour and icon chat services show: red for an outage, green when it ends."""
    if delivery.event is NotificationEvent.RESOLVE:
        return apprise.NotifyType.SUCCESS
    if delivery.incident.impact is Impact.MAINTENANCE:
        return apprise.NotifyType.INFO
    if delivery.incident.impact in (Impact.MAJOR, Impact.CRITICAL):
        return apprise.NotifyType.FAILURE
    return apprise.NotifyType.WARNING


class AppriseSender:
    """Sends the incident as a title and a plain-text body, in the status page's languages."""

    __slots__ = ("_apprise", "_languages", "_public_url", "_valid")

    def __init__(self, url: str, *, public_url: str = "", languages: Sequence[str] = ("fr", "en")) -> None:
        # Parsing the URL does no I/O. Sequential mode: one service, no point in Apprise's own threads.
        self._apprise = apprise.Apprise(asset=apprise.AppriseAsset(async_mode=False))
        with warnings.catch_warnings():
            # The first add() imports every Apprise plugin; its mail plugin imports the stdlib's deprecated
            # `imghdr`. That is Apprise's business, not our users': silence that one warning, nothing else.
            warnings.filterwarnings("ignore", message="'imghdr' is deprecated", category=DeprecationWarning)
            self._valid = self._apprise.add(url)
        self._public_url = public_url
        self._languages = tuple(languages)

    @property
    def valid(self) -> bool:
        """Whether Apprise understood the URL (so that `releve check` can say so before anything fails)."""
        return self._valid

    async def send(self, delivery: Delivery, http: aiohttp.ClientSession) -> None:
        if not self._valid:
            raise DeliveryError("Apprise does not recognise this URL", permanent=True)
        title, body = text_message(delivery.event, delivery.incident, delivery.update, self._public_url,
                                   self._languages)
        result = await asyncio.to_thread(self._apprise.notify, body=body, title=title,
                                         notify_type=_notify_type(delivery), body_format=apprise.NotifyFormat.TEXT)
        if not result:
            # Apprise logs the details (on the "apprise" logger, with secrets masked); it gives no reason back.
            raise DeliveryError("Apprise could not deliver")
