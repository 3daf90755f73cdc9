"""Webhooks: the incident as signed JSON, POSTed to a URL the operator chose."""

from __future__ import annotations

import asyncio
import os
from datetime import datetime

import aiohttp
import orjson

from ._delivery import Delivery, DeliveryError
from ._message import webhook_payload
from ._signature import sign_body

__all__ = ["WebhookSender", "post_signed"]

# Asking again later may help: the receiver timed out, is rate limiting, or is broken for now.
_RETRYABLE_4XX = frozenset({408, 429})


def _retry_after(value: str | None) -> float | None:
    """Retry-After in seconds (the HTTP-date form is rare from webhook receivers: ignored)."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def _describe(exc: BaseException) -> str:
    """The exception's class and the OS's reason: str(exc) can quote the host or the URL (a token)."""
    code = exc.errno if isinstance(exc, OSError) else None
    return f"{type(exc).__name__} ({os.strerror(code)})" if isinstance(code, int) else type(exc).__name__


class WebhookSender:
    """POST one JSON body per delivery, signed with the channel's secret.

    Redirects are not followed: a POST turned into a GET loses the body, and the operator
    should configure the final URL. Error messages name the failure, never the URL.
    """

    __slots__ = ("_public_url", "_secret", "_timeout", "_url")

    def __init__(self, url: str, secret: str, *, public_url: str = "", timeout: float = 10.0) -> None:
        self._url = url
        self._secret = secret
        self._public_url = public_url
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    def body(self, delivery: Delivery) -> bytes:
        payload = webhook_payload(delivery.event, delivery.incident, delivery.update, self._public_url)
        return orjson.dumps(payload)

    async def send(self, delivery: Delivery, http: aiohttp.ClientSession) -> None:
        await post_signed(http, self._url, self.body(delivery), secret=self._secret,
                          event=f"incident.{delivery.event.value}", delivery_id=str(delivery.id), at=delivery.at,
                          limit=self._timeout, user_agent="Releve-Webhook/1")


async def post_signed(http: aiohttp.ClientSession, url: str, body: bytes, *, secret: str, event: str,
                      delivery_id: str, at: datetime, limit: aiohttp.ClientTimeout,
                      user_agent: str) -> None:
    """POST a signed JSON body (incident webhooks, job callbacks); raise `DeliveryError` unless a 2xx came back.

    `X-Releve-Delivery` stays the same on every retry of one delivery, so receivers can drop duplicates.
    """
    headers = {
        "Content-Type": "application/json",
        "User-Agent": user_agent,
        "X-Releve-Event": event,
        "X-Releve-Delivery": delivery_id,
        "X-Releve-Signature": sign_body(secret, body, timestamp=int(at.timestamp())),
    }
    try:
        async with http.post(url, data=body, headers=headers, timeout=limit, allow_redirects=False) as response:
            status = response.status
            retry_after = _retry_after(response.headers.get("Retry-After"))
    except TimeoutError:
        raise DeliveryError(f"no answer within {limit.total:g} s") from None
    except (aiohttp.InvalidURL, ValueError):
        raise DeliveryError("invalid URL", permanent=True) from None
    except (aiohttp.ClientError, OSError, asyncio.IncompleteReadError) as exc:
        raise DeliveryError(f"network error: {_describe(exc)}") from None
    if 200 <= status < 300:
        return
    if 300 <= status < 400:
        raise DeliveryError(f"HTTP {status}: redirects are not followed, configure the final URL", permanent=True)
    if 400 <= status < 500 and status not in _RETRYABLE_4XX:
        raise DeliveryError(f"HTTP {status}", permanent=True)
    raise DeliveryError(f"HTTP {status}", retry_after=retry_after)
