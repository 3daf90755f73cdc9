"""Channels: every place notifications go, named by a stable id that carries no secret.

The store's outbox rows name a channel by id, not by URL: URLs often hold tokens, and an id
survives a restart as long as the URL is unchanged. Editing a URL makes a new channel; rows
for the old one are given up ("no longer configured") instead of going to the wrong place.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Literal

from releve.config import Config, WebhookConfig

from ._apprise import AppriseSender
from ._delivery import Sender
from ._webhook import WebhookSender

__all__ = ["Channels", "channel_id"]


def channel_id(kind: Literal["webhook", "apprise"], url: str) -> str:
    """`<kind>:<first 12 hex of sha256(url)>`: stable, short, and no token leaks through it."""
    return f"{kind}:{hashlib.sha256(url.encode()).hexdigest()[:12]}"


class Channels:
    """Channel id → sender, in configuration order (webhooks first, then Apprise URLs)."""

    __slots__ = ("_senders", "_unrecognised")

    def __init__(self, senders: Mapping[str, Sender]) -> None:
        self._senders = dict(senders)
        self._unrecognised = tuple(channel for channel, sender in self._senders.items()
                                   if isinstance(sender, AppriseSender) and not sender.valid)

    @classmethod
    def from_config(cls, config: Config) -> Channels:
        return cls.build(config.notify, config.webhooks, public_url=config.status_page.public_url,
                         languages=config.status_page.languages)

    @classmethod
    def build(cls, notify: Sequence[str], webhooks: Sequence[WebhookConfig], *, public_url: str = "",
              languages: Sequence[str] = ("fr", "en")) -> Channels:
        """A URL listed twice is one channel (the first listing wins): nobody wants each message twice."""
        senders: dict[str, Sender] = {}
        for webhook in webhooks:
            senders.setdefault(channel_id("webhook", webhook.url),
                               WebhookSender(webhook.url, webhook.secret, public_url=public_url))
        for url in notify:
            senders.setdefault(channel_id("apprise", url), AppriseSender(url, public_url=public_url,
                                                                        languages=languages))
        return cls(senders)

    @property
    def ids(self) -> tuple[str, ...]:
        """What the store's `channels=` argument takes: one notification per channel and event."""
        return tuple(self._senders)

    @property
    def unrecognised(self) -> tuple[str, ...]:
        """Apprise channels whose URL Apprise does not understand: they will only ever fail (for `releve check`)."""
        return self._unrecognised

    def get(self, channel: str) -> Sender | None:
        return self._senders.get(channel)

    def __len__(self) -> int:
        return len(self._senders)

    def __iter__(self) -> Iterator[str]:
        return iter(self._senders)
