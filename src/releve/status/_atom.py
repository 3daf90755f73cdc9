"""The incident history as an Atom 1.0 feed, for feed readers and chat integrations that poll.

Built with ElementTree, which escapes text itself; operator text is also
stripped of the control characters XML 1.0 forbids, so the feed always parses.
"""

from __future__ import annotations

import html
import re
import uuid
import xml.etree.ElementTree as ET

from releve.store import Incident

from ._i18n import IMPACT, INCIDENT_STATUS, format_datetime, label, pick
from ._statuspage import PageInfo, iso
from ._view import View

ATOM_NS = "http://www.w3.org/2005/Atom"
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_safe(text: str) -> str:
    return _NOT_XML.sub("", text)


def entry_id(incident_id: str) -> str:
    """The same incident keeps the same id in both languages and whatever the page's address."""
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'urn:releve:incident:{incident_id}')}"


def build_feed(view: View, page: PageInfo, language: str, *, self_url: str, page_url: str) -> bytes:
    """`page_url`: the HTML page in this language; entries link to their anchor in it."""
    feed = ET.Element("feed", {"xmlns": ATOM_NS, "xml:lang": language})
    _text(feed, "id", f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'urn:releve:history:{page.id}')}")
    _text(feed, "title", label("feed_title", language, title=page.name))
    entries = view.history
    _text(feed, "updated", iso(max((i.updated_at for i in entries), default=page.updated_at)))
    ET.SubElement(feed, "link", {"rel": "self", "type": "application/atom+xml", "href": self_url})
    ET.SubElement(feed, "link", {"rel": "alternate", "type": "text/html", "href": page_url, "hreflang": language})
    author = ET.SubElement(feed, "author")
    _text(author, "name", page.name)
    _text(feed, "generator", "Relève")
    for incident in entries:
        _entry(feed, incident, language, page_url)
    return bytes(ET.tostring(feed, encoding="utf-8", xml_declaration=True))


def _entry(feed: ET.Element, incident: Incident, language: str, page_url: str) -> None:
    entry = ET.SubElement(feed, "entry")
    _text(entry, "id", entry_id(incident.id))
    _text(entry, "title", pick(incident.name, language))
    _text(entry, "published", iso(incident.created_at))
    _text(entry, "updated", iso(incident.updated_at))
    link = f"{page_url}#incident-{incident.id}"
    ET.SubElement(entry, "link", {"rel": "alternate", "type": "text/html", "href": link})
    status = INCIDENT_STATUS[incident.status][language]
    _text(entry, "summary", f"{status} · {IMPACT[incident.impact][language]}")
    content = "".join(
        f"<p><small>{html.escape(format_datetime(u.created_at, language))}</small><br>"
        f"<strong>{html.escape(INCIDENT_STATUS[u.status][language])}</strong> - "
        f"{html.escape(pick(u.body, language)).replace(chr(10), '<br>')}</p>"
        for u in incident.updates)
    _text(entry, "content", content, {"type": "html"})


def _text(parent: ET.Element, tag: str, text: str, attributes: dict[str, str] | None = None) -> None:
    ET.SubElement(parent, tag, attributes or {}).text = xml_safe(text)
