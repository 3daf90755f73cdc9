"""Callbacks: a finished job's JSON, POSTed to the URL its client gave (`x-releve-callback`), signed.

The signature is the incident webhooks' (`X-Releve-Signature`, HMAC-SHA256 over the timestamp and the
body), with the deployment's callback secret, so a receiver checks both kinds with the same code.
"""

from __future__ import annotations

from datetime import datetime

import aiohttp
import orjson

from releve.notify import DeliveryError, post_signed
from releve.store import Job

from ._payload import job_payload

__all__ = ["CallbackSender"]

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
        await post_signed(http, job.callback_url, body, secret=self._secret, event=f"job.{job.status.value}",
                          delivery_id=job.id, at=at, limit=self._timeout, user_agent="Releve-Callback/1")
