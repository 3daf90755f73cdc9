"""Callbacks: a finished job's JSON, POSTed to the URL its client gave (`x-releve-callback`), signed.

The signature is the incident webhooks' (`X-Releve-Signature`, HMAC-SHA256 over the timestamp and the
body), with the deployment's callback secret, so a receiver checks both kinds with the same code.
"""

from __future__ import annotations

import asyncio
import os
from datetime import datetime

import aiohttp
import orjson

from releve.notify import DeliveryError, sign_body
from releve.store import Job

from ._payload import job_payload

__all__ = ["CallbackSender"]

# Asking again later may help: the receiver timed out or is rate limiting.
_RETRYABLE_4XX = frozenset({408, 429})


def _retry_after(value: str | None) -> float | None:
    try:
        seconds = float(value) if value is not None else -1.0
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def _describe(exc: BaseException) -> str:
    """The exception's class and the OS's reason, never str(exc): it can quote the URL (which may hold a token)."""
    code = exc.errno if isinstance(exc, OSError) else None
    return f"{type(exc).__name__} ({os.strerror(code)})" if isinstance(code, int) else type(exc).__name__


class CallbackSender:
    """POSTs one job's JSON; raises `DeliveryError` (permanent or not) when the receiver did not take it.

    Without a secret nothing is sent: an unsigned callback could be forged by anyone who can reach the receiver.

    Redirects are not followed (a POST turned into a GET loses the body). Error messages name the
    failure, never the URL.
    """

    __slots__ = ("_secret", "_timeout")

    def __init__(self, secret: str | None, *, timeout: float = 10.0) -> None:
        self._secret = secret
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def send(self, job: Job, http: aiohttp.ClientSession, at: datetime) -> None:
        if job.callback_url is None:
            return
        if not self._secret:
            raise DeliveryError("no callback secret is configured (jobs.callback_secret)", permanent=True)
        body = orjson.dumps(job_payload(job))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Releve-Callback/1",
            "X-Releve-Event": f"job.{job.status.value}",
            "X-Releve-Delivery": job.id,  # the same on every retry: receivers drop duplicates by it
            "X-Releve-Signature": sign_body(self._secret, body, timestamp=int(at.timestamp())),
        }
        try:
            async with http.post(job.callback_url, data=body, headers=headers, timeout=self._timeout,
                                 allow_redirects=False) as response:
                status = response.status
                retry_after = _retry_after(response.headers.get("Retry-After"))
        except TimeoutError:
            raise DeliveryError(f"no answer within {self._timeout.total:g} s") from None
        except (aiohttp.InvalidURL, ValueError):
            raise DeliveryError("invalid callback URL", permanent=True) from None
        except (aiohttp.ClientError, OSError, asyncio.IncompleteReadError) as exc:
            raise DeliveryError(f"network error: {_describe(exc)}") from None
        if 200 <= status < 300:
            return
        if 300 <= status < 400:
            raise DeliveryError(f"HTTP {status}: redirects are not followed", permanent=True)
        if 400 <= status < 500 and status not in _RETRYABLE_4XX:
            raise DeliveryError(f"HTTP {status}", permanent=True)
        raise DeliveryError(f"HTTP {status}", retry_after=retry_after)
