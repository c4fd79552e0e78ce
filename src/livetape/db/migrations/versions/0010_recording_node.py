"""the media node a recording runs on

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('recordings', sa.Column('node_id', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('recordings') as batch:
        batch.drop_column('node_id')
