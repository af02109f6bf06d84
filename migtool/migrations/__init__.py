"""Prisma migrations: the folder on disk, the `_prisma_migrations` table, and what state each one is in.

`state` and `checksum` are the pure core (data in, data out); `folder` and `table` do the reading.
The public entry points for other commands are in `migtool.migration_status`.
"""
