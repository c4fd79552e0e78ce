"""the node whose spool holds a file that is not in the object store yet

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29 08:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('vod_files', sa.Column('spooled_on', sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('vod_files') as batch:
        batch.drop_column('spooled_on')
