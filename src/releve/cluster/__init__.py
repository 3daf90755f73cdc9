"""Running as several replicas: the lead role (work done once) and the state replicas share.

`Leadership` holds the store's lead lease; `SharedState` carries breakers, rests and the replica
count through Redis. Both are off the request path, and both leave a replica serving on its own
when the store or Redis is unreachable.
"""

from ._leadership import LEAD_LEASE, Leadership, replica_id
from ._shared import SharedState

__all__ = ["LEAD_LEASE", "Leadership", "SharedState", "replica_id"]
