-- A pending migration with a `warning` finding (create-index-blocking): the index is built while
-- writes to "User" wait. deploy-migrate's default policy (--backup dangerous) takes and verifies a
-- backup before applying it. (The safe form is CREATE INDEX CONCURRENTLY in a file of its own.)
SET lock_timeout = '5s';
CREATE INDEX "User_name_idx" ON "User"("name");
