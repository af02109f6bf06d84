-- CreateIndex
-- Built CONCURRENTLY so that writes to "Order" keep flowing while the index
-- builds. CREATE INDEX CONCURRENTLY cannot run inside a transaction block, and
-- Prisma sends a migration file to PostgreSQL as one script (an implicit
-- transaction as soon as it has two statements), so it must be the ONLY
-- statement in its migration file.
-- If the build fails half-way it leaves an INVALID index behind: drop it
-- (DROP INDEX CONCURRENTLY "Order_userId_idx"), then
-- `prisma migrate resolve --rolled-back` this migration and deploy again.
CREATE INDEX CONCURRENTLY "Order_userId_idx" ON "Order"("userId");
