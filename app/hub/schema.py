"""The hub's tables (SQLAlchemy 2 Core): one schema for SQLite and PostgreSQL.

The migrations in app/hub/migrations create exactly these; a change here is a new revision.
Times are stored as timezone-aware UTC datetimes; JSON documents as text (the report exactly as
received, so IT can read any report's full JSON).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in and out: SQLite keeps no zone, so a naive value read back is UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, str):  # defensive: a value written by hand
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData()

TZ = UTCDateTime()

laptops = Table(
    "laptops",
    metadata,
    Column("id", String(64), primary_key=True),  # the random per-install id (reporter.laptop)
    Column("first_seen", TZ, nullable=False),
    Column("last_seen", TZ, nullable=False),
    Column("verdict", String(16), nullable=False, server_default=""),
    Column("layer", String(32), nullable=False, server_default=""),
    Column("headline", Text, nullable=False, server_default=""),
    Column("network", String(32), nullable=False, server_default=""),
    Column("username", String(200), nullable=False, server_default=""),
    Column("app_version", String(64), nullable=False, server_default=""),
    Column("state_at", TZ, nullable=True),  # `at` of the newest state event applied
)
Index("ix_laptops_last_seen", laptops.c.last_seen)

tokens = Table(
    "tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("hash", String(64), nullable=False, unique=True),  # SHA-256 hex of the token
    Column("admin", Boolean, nullable=False, server_default="0"),
    Column("created_at", TZ, nullable=False),
    Column("revoked_at", TZ, nullable=True),
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("password_hash", Text, nullable=False),  # argon2id, salted
    Column("created_at", TZ, nullable=False),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),  # SHA-256 of the cookie value
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created_at", TZ, nullable=False),
    Column("expires_at", TZ, nullable=False),
)

reports = Table(
    "reports",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("id", String(64), nullable=False, unique=True),  # the report's own id (uuid4)
    Column("laptop", String(64), nullable=False, server_default=""),
    Column("received_at", TZ, nullable=False),
    Column("created_at", TZ, nullable=False),
    Column("verdict", String(16), nullable=False),
    Column("layer", String(32), nullable=False),
    Column("group_key", String(64), nullable=False),
    Column("failing", Text, nullable=False),  # JSON [{kind, target, code}]
    Column("headline", Text, nullable=False, server_default=""),
    Column("username", String(200), nullable=False, server_default=""),
    Column("network", String(32), nullable=False, server_default=""),
    Column("note", Text, nullable=False, server_default=""),
    Column("known_incident", String(200), nullable=True),
    Column("body", Text, nullable=False),
    Column("token_id", Integer, nullable=True),
    Column("grouped", Boolean, nullable=False, server_default="0"),
    Column("group_id", Integer, nullable=True),  # the group it was counted in (revision 0002)
)
Index("ix_reports_group", reports.c.group_id, reports.c.created_at)
# only what waits for grouping is indexed (revision 0003): nearly every row is stored grouped
Index("ix_reports_ungrouped", reports.c.seq, sqlite_where=reports.c.grouped == false(),
      postgresql_where=reports.c.grouped == false())
Index("ix_reports_laptop", reports.c.laptop, reports.c.received_at)

states = Table(
    "states",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("laptop", String(64), nullable=False),
    Column("at", TZ, nullable=False),
    Column("received_at", TZ, nullable=False),
    Column("verdict", String(16), nullable=False),
    Column("layer", String(32), nullable=False),
    Column("group_key", String(64), nullable=False),
    Column("failing", Text, nullable=False),
    Column("headline", Text, nullable=False, server_default=""),
    Column("network", String(32), nullable=False, server_default=""),
    Column("username", String(200), nullable=False, server_default=""),
    Column("app_version", String(64), nullable=False, server_default=""),
    Column("token_id", Integer, nullable=True),
    Column("grouped", Boolean, nullable=False, server_default="0"),
    UniqueConstraint("laptop", "at", name="uq_states_laptop_at"),
)
Index("ix_states_ungrouped", states.c.seq, sqlite_where=states.c.grouped == false(),
      postgresql_where=states.c.grouped == false())

groups = Table(
    "groups",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(64), nullable=False),
    Column("state", String(16), nullable=False),  # open | resolved
    Column("verdict", String(16), nullable=False),
    Column("layer", String(32), nullable=False),
    Column("failing", Text, nullable=False),
    Column("headline", Text, nullable=False, server_default=""),
    Column("laptops", Integer, nullable=False, server_default="0"),
    Column("people", Integer, nullable=False, server_default="0"),
    Column("networks", Integer, nullable=False, server_default="0"),
    Column("first_at", TZ, nullable=False),
    Column("last_at", TZ, nullable=False),
    Column("resolved_at", TZ, nullable=True),
    Column("incident_id", String(200), nullable=True),
    # the notification cycle: when the next digest may go, and what the last one said
    Column("notified_at", TZ, nullable=True),
    Column("notified_laptops", Integer, nullable=False, server_default="0"),
    Column("changed_at", TZ, nullable=False),
)
Index("ix_groups_state_key", groups.c.state, groups.c.key)
Index("ix_groups_last_at", groups.c.last_at)

group_members = Table(
    "group_members",
    metadata,
    # no foreign key (revision 0003): the pass writes members with their group, and retention
    # deletes a group's members before the group
    Column("group_id", Integer, primary_key=True),
    Column("laptop", String(64), primary_key=True),
    Column("username", String(200), nullable=False, server_default=""),
    Column("network", String(32), nullable=False, server_default=""),
    Column("since", TZ, nullable=False),
    Column("last_at", TZ, nullable=False),
    Column("by_state", Boolean, nullable=False, server_default="0"),  # joined or confirmed by a state
    Column("left_at", TZ, nullable=True),
)
Index("ix_group_members_laptop", group_members.c.laptop, group_members.c.left_at)

incidents = Table(
    "incidents",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("title", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("message", Text, nullable=False, server_default=""),
    Column("started_at", TZ, nullable=False),
    Column("updated_at", TZ, nullable=False),
    Column("next_update_at", TZ, nullable=True),
    Column("affects", Text, nullable=False, server_default='["mail"]'),
    Column("group_id", Integer, nullable=True),
    Column("auto", Boolean, nullable=False, server_default="0"),  # opened by the hub itself
    Column("edited", Boolean, nullable=False, server_default="0"),  # IT changed it: its words win
)
Index("ix_incidents_updated", incidents.c.updated_at)

# the durable notification outbox: one row per (event, channel); claimed by one process at a time
notifications = Table(
    "notifications",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("group_id", Integer, nullable=False),
    Column("event", String(16), nullable=False),  # opened | grew | resolved
    Column("channel", String(16), nullable=False),
    Column("payload", Text, nullable=False),  # the group object as it was when queued
    Column("created_at", TZ, nullable=False),
    Column("due_at", TZ, nullable=False),
    Column("state", String(16), nullable=False),  # pending | sending | sent | failed
    Column("claimed_at", TZ, nullable=True),
    Column("claimed_by", String(64), nullable=True),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("sent_at", TZ, nullable=True),
    Column("last_error", Text, nullable=False, server_default=""),
)
Index("ix_notifications_due", notifications.c.state, notifications.c.due_at)
