-- Live documents (Append<R>Update ...): each document's updates not yet
-- merged into its state, by the document's table and key. The triggers on
-- a document's table keep here only the seqs above its compacted_seq:
-- compacting, replacing or deleting the document deletes its updates.
CREATE TABLE IF NOT EXISTS "protomodel_document_updates" (
  "table_name" text COLLATE "C" NOT NULL,
  "document_key" text COLLATE "C" NOT NULL,
  "seq" bigint NOT NULL,
  "update" bytea NOT NULL,
  "created_at" timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT "protomodel_document_updates_pkey" PRIMARY KEY ("table_name", "document_key", "seq")
);
