-- User, Class and Conversation (proto/grimoire/v1/grimoire.proto).
CREATE TABLE "user" (
  "id" uuid NOT NULL DEFAULT gen_random_uuid(),
  "email" text COLLATE "C" NOT NULL,
  "display_name" text COLLATE "C" NOT NULL,
  "created_at" timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT "user_pkey" PRIMARY KEY ("id"),
  CONSTRAINT "user_email_key" UNIQUE ("email")
);

CREATE TABLE "class" (
  "id" uuid NOT NULL DEFAULT gen_random_uuid(),
  "name" text COLLATE "C" NOT NULL,
  "owner_id" uuid NOT NULL,
  "invite_code" text COLLATE "C" NOT NULL,
  "created_at" timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT "class_pkey" PRIMARY KEY ("id"),
  CONSTRAINT "class_invite_code_key" UNIQUE ("invite_code"),
  CONSTRAINT "class_owner_id_fkey" FOREIGN KEY ("owner_id")
    REFERENCES "user" ("id") ON DELETE RESTRICT
);
CREATE INDEX "class_owner_id_idx" ON "class" ("owner_id");

CREATE TABLE "conversation" (
  "id" uuid NOT NULL DEFAULT gen_random_uuid(),
  "class_id" uuid NOT NULL,
  "owner_id" uuid NOT NULL,
  "raw_text" text COLLATE "C" NOT NULL,
  "crdt_state" bytea NOT NULL,
  "created_at" timestamptz NOT NULL DEFAULT now(),
  "etag" text COLLATE "C" NOT NULL DEFAULT gen_random_uuid()::text,
  CONSTRAINT "conversation_pkey" PRIMARY KEY ("id"),
  CONSTRAINT "conversation_class_id_fkey" FOREIGN KEY ("class_id")
    REFERENCES "class" ("id") ON DELETE RESTRICT,
  CONSTRAINT "conversation_owner_id_fkey" FOREIGN KEY ("owner_id")
    REFERENCES "user" ("id") ON DELETE RESTRICT
);
CREATE INDEX "conversation_class_id_idx" ON "conversation" ("class_id");
CREATE INDEX "conversation_owner_id_idx" ON "conversation" ("owner_id");
