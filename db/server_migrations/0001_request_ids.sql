-- Idempotent creates (AIP-155): the resource each request_id created.
-- (Databases made before this track recorded it as the user track's 0003.)
CREATE TABLE IF NOT EXISTS "protomodel_request_ids" (
  "request_id" uuid NOT NULL,
  "table_name" text COLLATE "C" NOT NULL,
  "resource_key" text COLLATE "C" NOT NULL,
  "created_at" timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT "protomodel_request_ids_pkey" PRIMARY KEY ("request_id", "table_name")
);
CREATE INDEX IF NOT EXISTS "protomodel_request_ids_created_at_idx"
  ON "protomodel_request_ids" ("created_at");
