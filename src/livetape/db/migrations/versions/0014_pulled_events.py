"""events handed out by pulls, until confirmed (the original's PullEvents / ConfirmEvents)

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-29 09:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from livetape.db.models import UTCDateTime

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'pulled_events',
        sa.Column('app_id', sa.String(32), sa.ForeignKey('apps.app_id'), primary_key=True),
        sa.Column('event_seq', sa.BigInteger(), primary_key=True),
        sa.Column('handle', sa.String(48), nullable=False, unique=True),
        sa.Column('lease_until', UTCDateTime(), nullable=False),
        sa.Column('confirmed', sa.Boolean(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table('pulled_events')
