"""Backups: take, list, verify, prune, restore and ship them to S3.

Entry points for other operations (import the submodule you need; heavy ones import lazily):
- `migtool.backup.dump.create_backup(db, request) -> Manifest`: one checksummed, atomic backup.
- `migtool.backup.catalog.scan(backup_dir) -> list[LocalBackup]`: our backups, newest first.
- `migtool.backup.verify.verify_backup(backup, db) -> VerifyReport`: is it whole?
- `migtool.backup.restore.restore_backup(db, path, ...)`: decompress and restore into a database.
"""
