-- Watches (Watch<Rs>): every served table's trigger logs each change here,
-- with the transaction that made it. Readers take what became visible since
-- their last snapshot (pg_visible_in_snapshot), so a change is read once it
-- commits, in whatever order transactions commit. Only the columns a filter
-- can name are logged, never bytes.
CREATE TABLE IF NOT EXISTS "protomodel_changes" (
  -- Taken as the change is made: for one row, in the order of its changes.
  "seq" bigint GENERATED ALWAYS AS IDENTITY,
  "xid" xid8 NOT NULL DEFAULT pg_current_xact_id(),
  "changed_at" timestamptz NOT NULL DEFAULT clock_timestamp(),
  "table_name" text COLLATE "C" NOT NULL,
  -- I insert, U update, D delete, T truncate.
  "op" "char" NOT NULL,
  "resource_key" text COLLATE "C" NOT NULL,
  "old_values" jsonb,
  "new_values" jsonb
);
-- A read starts at its snapshot's oldest transaction (xid), and pages on
-- through a large batch by seq.
CREATE INDEX IF NOT EXISTS "protomodel_changes_xid_idx" ON "protomodel_changes" ("xid");
CREATE INDEX IF NOT EXISTS "protomodel_changes_seq_idx" ON "protomodel_changes" ("seq");

-- Snapshots taken as the log is pruned: the newest one older than the
-- retention bounds what is deleted.
CREATE TABLE IF NOT EXISTS "protomodel_change_marks" (
  "taken_at" timestamptz PRIMARY KEY,
  "snapshot" text NOT NULL
);

-- Changes visible to the mark taken at "pruned_through" are gone: a resume
-- token from before it is OUT_OF_RANGE.
CREATE TABLE IF NOT EXISTS "protomodel_change_horizon" (
  "id" integer PRIMARY KEY CHECK ("id" = 1),
  "pruned_through" timestamptz NOT NULL
);
