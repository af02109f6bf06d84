"""Restore and restore-based rollback: put a backup back without ever losing the state it replaces.

- `source`: which backup (a path, a name in the backup folder, `latest`, or a name in S3).
- `server`: database-level operations (create beside, swap names, drop, free space).
- `load`: load a verified backup into a database, checked against its manifest.
- `restore`: `migtool restore` as steps; `rollback`: `migtool rollback` as steps.
"""
