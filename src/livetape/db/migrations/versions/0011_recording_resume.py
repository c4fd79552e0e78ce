"""a recording's resume window and gaps

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29 05:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('recordings', sa.Column('resume_until', sa.DateTime(timezone=True), nullable=True))
    op.add_column('recordings', sa.Column('gaps', sa.JSON(), nullable=False,
                                          server_default='[]'))


def downgrade() -> None:
    with op.batch_alter_table('recordings') as batch:
        batch.drop_column('gaps')
        batch.drop_column('resume_until')
