"""Notices to consumers and merchants (F19), delivered from the back office's outbox by
e-mail, signed webhook and an inbox; see docs/host.md, "Notices by e-mail, webhook and
inbox".

:mod:`.policy` decides (channels, outcomes, backoff) without I/O; :mod:`.store` is the
database side (deliveries, claims, the inbox); :mod:`.channels` the senders;
:mod:`.dispatcher` puts them together; :mod:`.signing` is what a merchant's receiver
uses to check a webhook.
"""

from .channels import InboxChannel, SMTPChannel, SMTPSettings, WebhookChannel
from .dispatcher import Dispatcher
from .policy import Channel, DeliveryState, Outcome, RetryPolicy
from .schema import create_notices_schema
from .signing import WebhookSignatureError, verify_webhook

__all__ = ["Channel", "DeliveryState", "Dispatcher", "InboxChannel", "Outcome", "RetryPolicy",
           "SMTPChannel", "SMTPSettings", "WebhookChannel", "WebhookSignatureError",
           "create_notices_schema", "verify_webhook"]
