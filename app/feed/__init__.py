"""The IT status feed (SPEC section 6): `parse` reads native and Statuspage v2 documents, `read`
fetches them over http(s) or from a file, `text` turns incidents into what the tray says, and
`write` is IT's side (`mailbeacon feed post|update|resolve`)."""

from app.feed.parse import STATUSES, FeedError, parse_feed
from app.feed.read import FeedReader, known_incident, read_it_status, reader_for
from app.feed.text import FeedEvent, IncidentTracker, incident_lines, status_line
from app.feed.write import create_empty, parse_next_update, post, resolve, update

__all__ = [
    "STATUSES",
    "FeedError",
    "FeedEvent",
    "FeedReader",
    "IncidentTracker",
    "create_empty",
    "incident_lines",
    "known_incident",
    "parse_feed",
    "parse_next_update",
    "post",
    "read_it_status",
    "reader_for",
    "resolve",
    "status_line",
    "update",
]
