"""Lighter writes: a group's members no longer carry a foreign key to their group, and only
the reports and states that wait for grouping are in the "ungrouped" indexes.

Every member is written by the grouping pass in the same transaction as its group, and
retention deletes a group's members before the group, so the key checked nothing the code does
not already guarantee. It cost a lookup of the group for every member stored: on PostgreSQL a
trigger and a row lock per member, about half of the time of storing one.

The grouper finds its work through ix_reports_ungrouped and ix_states_ungrouped. Nearly every
row is now stored already grouped, and each of them still cost an entry in those indexes; as
partial indexes (WHERE grouped = false) they hold only the rows still waiting.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _members(*foreign_key: sa.ForeignKeyConstraint) -> sa.Table:
    """group_members as 0001 made it, with or without the foreign key (SQLite rebuilds the table)."""
    return sa.Table(
        "group_members", sa.MetaData(),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("laptop", sa.String(length=64), nullable=False),
        sa.Column("username", sa.String(length=200), server_default="", nullable=False),
        sa.Column("network", sa.String(length=32), server_default="", nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by_state", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("left_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("group_id", "laptop"),
        sa.Index("ix_group_members_laptop", "laptop", "left_at"),
        *foreign_key,
    )


_UNGROUPED = (("ix_reports_ungrouped", "reports"), ("ix_states_ungrouped", "states"))


def upgrade() -> None:
    bind = op.get_bind()
    waiting = sa.column("grouped") == sa.false()  # each dialect writes false its own way
    for name, table in _UNGROUPED:
        op.drop_index(name, table_name=table)
        op.create_index(name, table, ["seq"], postgresql_where=waiting, sqlite_where=waiting)
    if bind.dialect.name == "sqlite":  # SQLite cannot drop a constraint: the table is rebuilt
        with op.batch_alter_table("group_members", copy_from=_members(), recreate="always"):
            pass
        return
    for key in sa.inspect(bind).get_foreign_keys("group_members"):
        op.drop_constraint(key["name"], "group_members", type_="foreignkey")


def downgrade() -> None:
    bind = op.get_bind()
    for name, table in _UNGROUPED:
        op.drop_index(name, table_name=table)
        op.create_index(name, table, ["grouped", "seq"])
    if bind.dialect.name == "sqlite":
        key = sa.ForeignKeyConstraint(["group_id"], ["groups.id"], ondelete="CASCADE")
        with op.batch_alter_table("group_members", copy_from=_members(key), recreate="always"):
            pass
        return
    op.create_foreign_key(None, "group_members", "groups", ["group_id"], ["id"], ondelete="CASCADE")
