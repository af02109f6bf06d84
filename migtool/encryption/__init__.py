"""Client-side encryption of backups with age (https://age-encryption.org), streaming.

Core only for now: `age_stream` encrypts a byte stream on its way to disk and decrypts one on its
way out, through the `age` CLI (Debian package `age`), the same binary the recovery script uses, so
a backup written by Python always opens without Python. Not yet wired into backup/verify/restore.
"""
