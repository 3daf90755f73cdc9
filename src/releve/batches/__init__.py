"""OpenAI's Batch API, run by Relève itself: files, batches, and a runner that carries them through outages.

`BatchApi` answers `/v1/files…` and `/v1/batches…` (so the official SDKs work unchanged); `BatchRunner`
runs each batch's lines through the router's routes, pausing while no target can answer and taking the
batch up again after a restart, from what the store says is left.
"""

from ._api import BatchApi
from ._runner import BatchRunner

__all__ = ["BatchApi", "BatchRunner"]
