"""Telling people about incidents: webhooks (signed JSON) and Apprise (mail, chat…) from the store's outbox.

The store queues one outbox row per channel in the same transaction as the incident; the
`Notifier` delivers them with retries. Other packages import from here only.
"""

from ._channels import Channels, channel_id
from ._delivery import Delivery, DeliveryError, Sender
from ._notifier import Notifier
from ._signature import sign_body, verify_signature
from ._webhook import post_signed

__all__ = [
    "Channels",
    "Delivery",
    "DeliveryError",
    "Notifier",
    "Sender",
    "channel_id",
    "post_signed",
    "sign_body",
    "verify_signature",
]
