"""`migtool plan`: the safe, phased way to make a schema change, as Prisma migration folders and a
PLAN.md that says which release ships which migration and what code change each release needs.

One module per change kind (add_required_column, copy_column for rename-column and
change-column-type, add_foreign_key, add_index, drop), sharing naming (Prisma's names and quoting),
schema (the live or folder schema, with closest-match errors), backfill (batched DO blocks) and model
(the plan as data, rendered as Markdown). `migtool request` (request.py) reads migrations back into a
Schema Change Request. The core does no I/O beyond what writer.py and schema.read_* are for.
"""

KINDS = ("add-required-column", "rename-column", "change-column-type", "add-foreign-key", "add-index",
         "drop-column", "drop-table")
