"""Books for the dashboard: status (uploaded/ready/rejected) and the parser's error,
cover key, the player's last position, soft delete.

Existing books were all parsed by a job's ``prepare`` task, so they start ``ready``
when they have chapters and ``uploaded`` otherwise. SQLite needs batch mode for the
downgrade's column drops (``render_as_batch`` in env.py).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("books") as batch:
        batch.add_column(sa.Column("status", sa.String(length=16), nullable=False, server_default="uploaded"))
        batch.add_column(sa.Column("error", sa.Text(), nullable=True))
        batch.add_column(sa.Column("cover_key", sa.String(length=1024), nullable=True))
        batch.add_column(sa.Column("playback", sa.JSON(), nullable=False, server_default="{}"))
        batch.add_column(sa.Column("deleted_at", sa.DateTime(), nullable=True))
    with op.batch_alter_table("books") as batch:
        batch.alter_column("status", server_default=None)
        batch.alter_column("playback", server_default=None)
        batch.create_index("ix_books_status", ["status"])
    op.execute("UPDATE books SET status = 'ready' WHERE words > 0")


def downgrade() -> None:
    with op.batch_alter_table("books") as batch:
        batch.drop_index("ix_books_status")
        for column in ("deleted_at", "playback", "cover_key", "error", "status"):
            batch.drop_column(column)
