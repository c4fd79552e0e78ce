"""events (the outbox), webhooks, their deliveries and attempts

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29 05:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from livetape.db.models import UTCDateTime

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'events',
        sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), primary_key=True,
                  autoincrement=True),
        sa.Column('event_id', sa.String(length=40), nullable=False, unique=True),
        sa.Column('app_id', sa.String(length=32), sa.ForeignKey('apps.app_id'), nullable=False),
        sa.Column('type', sa.String(length=32), nullable=False),
        sa.Column('occurred_at', UTCDateTime(), nullable=False),
        sa.Column('recording_id', sa.String(length=40), nullable=True),
        sa.Column('data', sa.JSON(), nullable=False),
    )
    op.create_index('ix_events_app_seq', 'events', ['app_id', 'seq'])
    op.create_index('ix_events_recording', 'events', ['recording_id'])
    op.create_table(
        'webhooks',
        sa.Column('webhook_id', sa.String(length=40), primary_key=True),
        sa.Column('app_id', sa.String(length=32), sa.ForeignKey('apps.app_id'), nullable=False),
        sa.Column('url', sa.String(length=2000), nullable=False),
        sa.Column('events', sa.JSON(), nullable=False),
        sa.Column('secret', sa.String(length=100), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
    )
    op.create_index('ix_webhooks_app', 'webhooks', ['app_id'])
    op.create_table(
        'webhook_deliveries',
        sa.Column('delivery_id', sa.String(length=40), primary_key=True),
        sa.Column('webhook_id', sa.String(length=40), nullable=False),
        sa.Column('app_id', sa.String(length=32), sa.ForeignKey('apps.app_id'), nullable=False),
        sa.Column('event_seq', sa.BigInteger(), nullable=False),
        sa.Column('recording_id', sa.String(length=40), nullable=True),
        sa.Column('state', sa.String(length=12), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', UTCDateTime(), nullable=False),
        sa.Column('give_up_at', UTCDateTime(), nullable=True),
        sa.Column('lease_until', UTCDateTime(), nullable=True),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('delivered_at', UTCDateTime(), nullable=True),
    )
    op.create_index('ix_deliveries_due', 'webhook_deliveries', ['state', 'next_attempt_at'])
    op.create_index('ix_deliveries_webhook', 'webhook_deliveries', ['webhook_id', 'event_seq'])
    op.create_index('ix_deliveries_order', 'webhook_deliveries',
                    ['webhook_id', 'recording_id', 'event_seq'])
    op.create_table(
        'webhook_attempts',
        sa.Column('delivery_id', sa.String(length=40), primary_key=True),
        sa.Column('attempt', sa.Integer(), primary_key=True),
        sa.Column('webhook_id', sa.String(length=40), nullable=False),
        sa.Column('at', UTCDateTime(), nullable=False),
        sa.Column('ok', sa.Boolean(), nullable=False),
        sa.Column('response_code', sa.Integer(), nullable=True),
        sa.Column('latency_ms', sa.Integer(), nullable=False),
        sa.Column('error', sa.String(length=500), nullable=False),
        sa.Column('node', sa.String(length=100), nullable=False),
    )


def downgrade() -> None:
    op.drop_table('webhook_attempts')
    op.drop_table('webhook_deliveries')
    op.drop_table('webhooks')
    op.drop_table('events')
