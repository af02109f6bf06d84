-- Contract, step 3 of 3.
-- With a validated CHECK ("phone" IS NOT NULL) in place, PostgreSQL 12+ sets
-- NOT NULL without scanning the table, so the ACCESS EXCLUSIVE lock is brief.
-- The CHECK constraint is redundant afterwards.
SET lock_timeout = '5s';

-- AlterTable
ALTER TABLE "User" ALTER COLUMN "phone" SET NOT NULL;

-- DropCheckConstraint
ALTER TABLE "User" DROP CONSTRAINT "User_phone_not_null";
