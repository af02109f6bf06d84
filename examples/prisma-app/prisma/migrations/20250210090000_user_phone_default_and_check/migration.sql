-- Contract, step 1 of 3.
-- A default first, so rows inserted by code that does not send "phone" are
-- valid. Then a CHECK constraint added NOT VALID: it is enforced for new and
-- updated rows at once, but existing rows are not scanned, so the ACCESS
-- EXCLUSIVE lock is held only for a moment.
SET lock_timeout = '5s';

-- AlterTable
ALTER TABLE "User" ALTER COLUMN "phone" SET DEFAULT 'unknown';

-- AddCheckConstraint
ALTER TABLE "User" ADD CONSTRAINT "User_phone_not_null" CHECK ("phone" IS NOT NULL) NOT VALID;
