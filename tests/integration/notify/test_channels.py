"""Channel ids: stable, per kind, and free of the URL's secrets."""

from __future__ import annotations

import hashlib

from releve.config import WebhookConfig, parse_config
from releve.notify import Channels, channel_id

CONFIG = """
auth: none
providers:
  openai: {kind: openai, base_url: "https://api.openai.com/v1", api_key: k}
routes:
  support: {targets: [{provider: openai, model: gpt-4o-mini}]}
status_page: {public_url: "https://status.example.com"}
webhooks:
  - {url: "https://hooks.example.com/releve", secret: "0123456789abcdef"}
  - {url: "https://hooks.example.com/releve", secret: "fedcba9876543210"}
notify: ["slack://TokenA/TokenB/TokenC", "json://localhost/hook", "slack://TokenA/TokenB/TokenC"]
"""


def test_channel_id_is_the_kind_and_a_short_hash_of_the_url() -> None:
    url = "slack://TokenA/TokenB/TokenC"
    assert channel_id("apprise", url) == "apprise:" + hashlib.sha256(url.encode()).hexdigest()[:12]
    assert channel_id("webhook", url) == "webhook:" + hashlib.sha256(url.encode()).hexdigest()[:12]
    assert "Token" not in channel_id("apprise", url)


def test_channels_from_config_list_each_url_once_in_order() -> None:
    """Webhooks first, then Apprise URLs; a URL listed twice is one channel."""
    channels = Channels.from_config(parse_config(CONFIG, {}))
    assert channels.ids == (
        channel_id("webhook", "https://hooks.example.com/releve"),
        channel_id("apprise", "slack://TokenA/TokenB/TokenC"),
        channel_id("apprise", "json://localhost/hook"),
    )
    assert len(channels) == 3
    assert list(channels) == list(channels.ids)
    assert all(channels.get(channel) is not None for channel in channels.ids)
    assert channels.get("webhook:000000000000") is None


def test_channels_built_from_lists() -> None:
    channels = Channels.build([], [WebhookConfig(url="http://127.0.0.1:9/x", secret="0123456789abcdef")])
    assert channels.ids == (channel_id("webhook", "http://127.0.0.1:9/x"),)
    assert Channels.build([], []).ids == ()
