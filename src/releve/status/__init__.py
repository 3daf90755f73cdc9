"""The public status page: HTML for people, Statuspage's v2 JSON for widgets, Atom for feed readers.

Reads the store only (through a short-lived cache); the monitor and the
operators write incidents, this package shows them. The app mounts
`StatusPage.endpoints` in its path table.
"""

from ._page import StatusPage

__all__ = ["StatusPage"]
