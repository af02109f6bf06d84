-- Contract, step 2 of 3.
-- Catch up rows that old code inserted between the backfill and the default
-- (normally none), then validate the constraint. VALIDATE CONSTRAINT scans the
-- table under a SHARE UPDATE EXCLUSIVE lock: reads and writes continue.
UPDATE "User" SET "phone" = 'unknown' WHERE "phone" IS NULL;

-- ValidateCheckConstraint
ALTER TABLE "User" VALIDATE CONSTRAINT "User_phone_not_null";
