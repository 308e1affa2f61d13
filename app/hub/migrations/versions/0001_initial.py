"""Initial schema: laptops, tokens, users, sessions, reports, states, groups, members,
incidents and the notification outbox.

Revision ID: 0001
Revises:
Create Date: 2026-12-01 07:28:07.126799
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('groups',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('verdict', sa.String(length=16), nullable=False),
    sa.Column('layer', sa.String(length=32), nullable=False),
    sa.Column('failing', sa.Text(), nullable=False),
    sa.Column('headline', sa.Text(), server_default='', nullable=False),
    sa.Column('laptops', sa.Integer(), server_default='0', nullable=False),
    sa.Column('people', sa.Integer(), server_default='0', nullable=False),
    sa.Column('networks', sa.Integer(), server_default='0', nullable=False),
    sa.Column('first_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('incident_id', sa.String(length=200), nullable=True),
    sa.Column('notified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('notified_laptops', sa.Integer(), server_default='0', nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('groups', schema=None) as batch_op:
        batch_op.create_index('ix_groups_last_at', ['last_at'], unique=False)
        batch_op.create_index('ix_groups_state_key', ['state', 'key'], unique=False)

    op.create_table('incidents',
    sa.Column('id', sa.String(length=200), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('message', sa.Text(), server_default='', nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('next_update_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('affects', sa.Text(), server_default='["mail"]', nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=True),
    sa.Column('auto', sa.Boolean(), server_default='0', nullable=False),
    sa.Column('edited', sa.Boolean(), server_default='0', nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.create_index('ix_incidents_updated', ['updated_at'], unique=False)

    op.create_table('laptops',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('first_seen', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen', sa.DateTime(timezone=True), nullable=False),
    sa.Column('verdict', sa.String(length=16), server_default='', nullable=False),
    sa.Column('layer', sa.String(length=32), server_default='', nullable=False),
    sa.Column('headline', sa.Text(), server_default='', nullable=False),
    sa.Column('network', sa.String(length=32), server_default='', nullable=False),
    sa.Column('username', sa.String(length=200), server_default='', nullable=False),
    sa.Column('app_version', sa.String(length=64), server_default='', nullable=False),
    sa.Column('state_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('laptops', schema=None) as batch_op:
        batch_op.create_index('ix_laptops_last_seen', ['last_seen'], unique=False)

    op.create_table('notifications',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('event', sa.String(length=16), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('claimed_by', sa.String(length=64), nullable=True),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), server_default='', nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index('ix_notifications_due', ['state', 'due_at'], unique=False)

    op.create_table('reports',
    sa.Column('seq', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('laptop', sa.String(length=64), server_default='', nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('verdict', sa.String(length=16), nullable=False),
    sa.Column('layer', sa.String(length=32), nullable=False),
    sa.Column('group_key', sa.String(length=64), nullable=False),
    sa.Column('failing', sa.Text(), nullable=False),
    sa.Column('headline', sa.Text(), server_default='', nullable=False),
    sa.Column('username', sa.String(length=200), server_default='', nullable=False),
    sa.Column('network', sa.String(length=32), server_default='', nullable=False),
    sa.Column('note', sa.Text(), server_default='', nullable=False),
    sa.Column('known_incident', sa.String(length=200), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('token_id', sa.Integer(), nullable=True),
    sa.Column('grouped', sa.Boolean(), server_default='0', nullable=False),
    sa.PrimaryKeyConstraint('seq'),
    sa.UniqueConstraint('id')
    )
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.create_index('ix_reports_laptop', ['laptop', 'received_at'], unique=False)
        batch_op.create_index('ix_reports_ungrouped', ['grouped', 'seq'], unique=False)

    op.create_table('states',
    sa.Column('seq', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('laptop', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('verdict', sa.String(length=16), nullable=False),
    sa.Column('layer', sa.String(length=32), nullable=False),
    sa.Column('group_key', sa.String(length=64), nullable=False),
    sa.Column('failing', sa.Text(), nullable=False),
    sa.Column('headline', sa.Text(), server_default='', nullable=False),
    sa.Column('network', sa.String(length=32), server_default='', nullable=False),
    sa.Column('username', sa.String(length=200), server_default='', nullable=False),
    sa.Column('app_version', sa.String(length=64), server_default='', nullable=False),
    sa.Column('token_id', sa.Integer(), nullable=True),
    sa.Column('grouped', sa.Boolean(), server_default='0', nullable=False),
    sa.PrimaryKeyConstraint('seq'),
    sa.UniqueConstraint('laptop', 'at', name='uq_states_laptop_at')
    )
    with op.batch_alter_table('states', schema=None) as batch_op:
        batch_op.create_index('ix_states_ungrouped', ['grouped', 'seq'], unique=False)

    op.create_table('tokens',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.Column('admin', sa.Boolean(), server_default='0', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('hash'),
    sa.UniqueConstraint('name')
    )
    op.create_table('users',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('password_hash', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('group_members',
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('laptop', sa.String(length=64), nullable=False),
    sa.Column('username', sa.String(length=200), server_default='', nullable=False),
    sa.Column('network', sa.String(length=32), server_default='', nullable=False),
    sa.Column('since', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('by_state', sa.Boolean(), server_default='0', nullable=False),
    sa.Column('left_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['group_id'], ['groups.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('group_id', 'laptop')
    )
    with op.batch_alter_table('group_members', schema=None) as batch_op:
        batch_op.create_index('ix_group_members_laptop', ['laptop', 'left_at'], unique=False)

    op.create_table('sessions',
    sa.Column('id_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('csrf', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id_hash')
    )


def downgrade() -> None:
    op.drop_table('sessions')
    with op.batch_alter_table('group_members', schema=None) as batch_op:
        batch_op.drop_index('ix_group_members_laptop')

    op.drop_table('group_members')
    op.drop_table('users')
    op.drop_table('tokens')
    with op.batch_alter_table('states', schema=None) as batch_op:
        batch_op.drop_index('ix_states_ungrouped')

    op.drop_table('states')
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.drop_index('ix_reports_ungrouped')
        batch_op.drop_index('ix_reports_laptop')

    op.drop_table('reports')
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_notifications_due')

    op.drop_table('notifications')
    with op.batch_alter_table('laptops', schema=None) as batch_op:
        batch_op.drop_index('ix_laptops_last_seen')

    op.drop_table('laptops')
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_index('ix_incidents_updated')

    op.drop_table('incidents')
    with op.batch_alter_table('groups', schema=None) as batch_op:
        batch_op.drop_index('ix_groups_state_key')
        batch_op.drop_index('ix_groups_last_at')

    op.drop_table('groups')
