"""Book structure: the outline the ``inspect`` job read (``[{level, title, words}]`` per
section) and the author's track layout (``pipeline.structure.Layout.to_dict()``; ``{}``
is the default split level).

Existing books have neither: an empty outline shows no layout controls, and an empty
layout is the default, so the job makes the tracks it made before. SQLite needs batch
mode for the downgrade's column drops (``render_as_batch`` in env.py).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("books") as batch:
        batch.add_column(sa.Column("outline", sa.JSON(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("layout", sa.JSON(), nullable=False, server_default="{}"))
    with op.batch_alter_table("books") as batch:
        batch.alter_column("outline", server_default=None)
        batch.alter_column("layout", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("books") as batch:
        for column in ("layout", "outline"):
            batch.drop_column(column)
