-- Backfill "phone" for existing rows in small batches, committing after each
-- batch so that no transaction holds row locks on the whole table and
-- autovacuum can keep up. COMMIT inside DO works because this DO block is the
-- only statement of the migration file (so it is not inside a transaction
-- block); keep it that way.
-- Rows are picked by primary key with SKIP LOCKED so that a row the app is
-- updating right now is simply taken by a later batch.
DO $$
DECLARE
    batch_size CONSTANT integer := 1000;
    updated integer;
BEGIN
    LOOP
        UPDATE "User" AS u
           SET "phone" = 'unknown'
         WHERE u."id" IN (
                 SELECT "id" FROM "User"
                  WHERE "phone" IS NULL
                  ORDER BY "id"
                  LIMIT batch_size
                    FOR UPDATE SKIP LOCKED
               );
        GET DIAGNOSTICS updated = ROW_COUNT;
        EXIT WHEN updated = 0;
        RAISE NOTICE 'backfilled % rows of "User"."phone"', updated;
        COMMIT;
        PERFORM pg_sleep(0.05); -- give other writers some room
    END LOOP;
END
$$;
