-- Hero and Team (proto/heroes/v1/heroes.proto).
CREATE TABLE "team" (
  "id" bigint GENERATED ALWAYS AS IDENTITY,
  "name" text COLLATE "C" NOT NULL,
  CONSTRAINT "team_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "team_name_idx" ON "team" ("name");

CREATE TABLE "hero" (
  "id" bigint GENERATED ALWAYS AS IDENTITY,
  "name" text COLLATE "C" NOT NULL,
  "secret_name" text COLLATE "C" NOT NULL,
  "age" integer,
  "team_id" bigint,
  CONSTRAINT "hero_pkey" PRIMARY KEY ("id"),
  CONSTRAINT "hero_team_id_fkey" FOREIGN KEY ("team_id")
    REFERENCES "team" ("id") ON DELETE SET NULL
);
CREATE INDEX "hero_name_idx" ON "hero" ("name");
CREATE INDEX "hero_age_idx" ON "hero" ("age");
CREATE INDEX "hero_team_id_idx" ON "hero" ("team_id");
