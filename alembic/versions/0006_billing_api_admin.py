"""Credits and billing, REST API keys, a watched inspect job.

* ``credit_ledger.actor_id`` (the admin who granted or removed credits) and
  ``credit_ledger.detail`` (JSON: pack, amount, Stripe payment intent, reason), and an
  index on ``credit_ledger.created_at`` (history and revenue per day). The new ledger
  reasons (``reservation``, ``release``) are plain strings: no schema change.
* ``api_keys``: personal REST API keys, stored as SHA-256 digests.
* ``books.inspect_rq_job_id`` / ``inspect_attempts`` / ``inspect_lease_expires_at``: the
  inspect job gets the lease and watchdog the job tasks have.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("credit_ledger") as batch:
        batch.add_column(sa.Column("actor_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("detail", sa.JSON(), nullable=False, server_default="{}"))
        batch.create_foreign_key(
            "fk_credit_ledger_actor_id_users", "users", ["actor_id"], ["id"]
        )
        batch.create_index("ix_credit_ledger_created_at", ["created_at"])
    with op.batch_alter_table("credit_ledger") as batch:
        batch.alter_column("detail", server_default=None)
    with op.batch_alter_table("books") as batch:
        batch.add_column(sa.Column("inspect_rq_job_id", sa.String(100), nullable=True))
        batch.add_column(
            sa.Column("inspect_attempts", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("inspect_lease_expires_at", sa.DateTime(), nullable=True))
    with op.batch_alter_table("books") as batch:
        batch.alter_column("inspect_attempts", server_default=None)
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_used_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_keys_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    op.create_index("ix_api_keys_user_id", "api_keys", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_api_keys_user_id", table_name="api_keys")
    op.drop_table("api_keys")
    with op.batch_alter_table("books") as batch:
        for column in ("inspect_lease_expires_at", "inspect_attempts", "inspect_rq_job_id"):
            batch.drop_column(column)
    with op.batch_alter_table("credit_ledger") as batch:
        batch.drop_index("ix_credit_ledger_created_at")
        batch.drop_constraint("fk_credit_ledger_actor_id_users", type_="foreignkey")
        batch.drop_column("detail")
        batch.drop_column("actor_id")
