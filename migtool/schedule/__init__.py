"""Scheduled backups: `migtool backup --schedule CRON` as a long-lived process (a compose service).

cron.py (when), gfs.py (which to keep), state.py (what the healthcheck reads), heartbeat.py (the
dead man's switch ping), runner.py (one run and the loop), command.py (the CLI glue).
"""
