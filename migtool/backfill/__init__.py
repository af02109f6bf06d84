"""Batched, resumable backfills: walk a table by primary-key ranges in short transactions.

- expressions.py: validate `--set`/`--where` with PostgreSQL's parser (pure)
- plan.py: the table's shape, the SQL of one batch, batch sizing and backoff (pure)
- catalog.py: read the table's shape and size from the database
- progress.py: the `migtool_backfill` table that makes a run resumable
- guards.py: pause when writers wait on our locks or replicas lag
- runner.py: the batch loop
- display.py: a progress bar on a TTY, plain lines otherwise
"""
