"""`migtool rehearse`: prove a migration safe by running it on a disposable copy of production.

stack (the copy as its own compose project), scenario/traffic (HTTP load from config), locks
(pg_locks sampling), report (verdicts, markdown), pipeline (the steps).
"""
