"""production path: vectors stored once per model, an encoding queue, commit-order-safe outbox

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-09 09:00:00

On PostgreSQL, a trigger stamps every outbox row with the id of the transaction that wrote it
(followers read "what committed since my snapshot" from it, whatever the commit order), and
statement triggers NOTIFY `duijie_index` (web processes follow the index) and `duijie_jobs`
(workers wake for new encoding work) when the writing transaction commits.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0008"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PG_UP = """
CREATE OR REPLACE FUNCTION duijie_outbox_txid() RETURNS trigger AS $$
BEGIN
  NEW.txid := pg_current_xact_id()::text::bigint;
  RETURN NEW;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER indexoutbox_txid BEFORE INSERT ON indexoutbox
  FOR EACH ROW EXECUTE FUNCTION duijie_outbox_txid();

CREATE OR REPLACE FUNCTION duijie_notify_index() RETURNS trigger AS $$
BEGIN
  PERFORM pg_notify('duijie_index', '');
  RETURN NULL;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER indexoutbox_notify AFTER INSERT ON indexoutbox
  FOR EACH STATEMENT EXECUTE FUNCTION duijie_notify_index();

CREATE OR REPLACE FUNCTION duijie_notify_jobs() RETURNS trigger AS $$
BEGIN
  PERFORM pg_notify('duijie_jobs', '');
  RETURN NULL;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER embeddingjob_notify AFTER INSERT ON embeddingjob
  FOR EACH STATEMENT EXECUTE FUNCTION duijie_notify_jobs();
"""

PG_DOWN = """
DROP TRIGGER IF EXISTS embeddingjob_notify ON embeddingjob;
DROP TRIGGER IF EXISTS indexoutbox_notify ON indexoutbox;
DROP TRIGGER IF EXISTS indexoutbox_txid ON indexoutbox;
DROP FUNCTION IF EXISTS duijie_notify_jobs();
DROP FUNCTION IF EXISTS duijie_notify_index();
DROP FUNCTION IF EXISTS duijie_outbox_txid();
"""


def upgrade() -> None:
    op.create_table(
        "embeddingvector",
        sa.Column("fingerprint", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("collection", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("text_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("dim", sa.Integer(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("tokens", sa.Text(), nullable=True),
        sa.Column("tokenizer", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint(
            "fingerprint", "collection", "item_id", "role", name=op.f("pk_embeddingvector")
        ),
    )
    op.create_table(
        "embeddingjob",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("collection", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_embeddingjob")),
    )
    with op.batch_alter_table("indexoutbox", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("fingerprint", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True)
        )
        batch_op.add_column(sa.Column("txid", sa.BigInteger(), nullable=True))
        batch_op.create_index(batch_op.f("ix_indexoutbox_txid"), ["txid"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_UP)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_DOWN)
    with op.batch_alter_table("indexoutbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_indexoutbox_txid"))
        batch_op.drop_column("txid")
        batch_op.drop_column("fingerprint")
    op.drop_table("embeddingjob")
    op.drop_table("embeddingvector")
