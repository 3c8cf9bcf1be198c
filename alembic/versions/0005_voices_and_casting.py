"""Voices and casting: a voice's engine parameters and clone reference, the try-a-voice
history, and the queue a task runs on.

* ``voices.params``: the voice's ``pipeline.config.VoiceConfig`` fields (engine
  parameters) as JSON; ``voices.reference_key`` / ``reference_text``: a clone's (or a
  designed voice's) reference clip in storage (24 kHz mono WAV) and its transcript.
* ``voice_trials``: "try a voice" generations (text, voice, status, audio in storage).
* ``books.speakers``: who speaks in the book (``[{name, lines}]``, most lines first), as
  the inspect job attributed its quotations; existing books have none until inspected.
* ``tasks.queue``: the RQ queue kind a task runs on ("gpu" for a Qwen3-TTS batch); NULL
  is the kind's own queue, so existing tasks keep theirs.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("voices") as batch:
        batch.add_column(sa.Column("params", sa.JSON(), nullable=False, server_default="{}"))
        batch.add_column(sa.Column("reference_key", sa.String(1024), nullable=True))
        batch.add_column(sa.Column("reference_text", sa.Text(), nullable=True))
    with op.batch_alter_table("voices") as batch:
        batch.alter_column("params", server_default=None)
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("queue", sa.String(16), nullable=True))
    with op.batch_alter_table("books") as batch:
        batch.add_column(sa.Column("speakers", sa.JSON(), nullable=False, server_default="[]"))
    with op.batch_alter_table("books") as batch:
        batch.alter_column("speakers", server_default=None)
    op.create_table(
        "voice_trials",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("owner_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("voice_id", sa.String(64), nullable=False),
        sa.Column("voice_name", sa.String(200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("audio_key", sa.String(1024), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_voice_trials_owner_id", "voice_trials", ["owner_id"])


def downgrade() -> None:
    op.drop_index("ix_voice_trials_owner_id", table_name="voice_trials")
    op.drop_table("voice_trials")
    with op.batch_alter_table("books") as batch:
        batch.drop_column("speakers")
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("queue")
    with op.batch_alter_table("voices") as batch:
        for column in ("reference_text", "reference_key", "params"):
            batch.drop_column(column)
