-- Expand: add the column as NULLable with no default, which is a
-- catalog-only change (no table rewrite, lock held for milliseconds).
-- Old code that does not know about "phone" keeps working; new code may
-- start writing it.
SET lock_timeout = '5s';

-- AlterTable
ALTER TABLE "User" ADD COLUMN "phone" TEXT;
