"""deploy-migrate's steps, one module each, composed by pipeline.py; rollback and rehearse reuse them.

    preflight.run_preflight(config, backup_certain=False) -> Preflight(db, checks, database_bytes, free_bytes)
    lock.DeployLock(db, holder_app_name(run_id, user, host, pid)).acquire(timeout) / .release()
    lock.lock_holders(db), lock.terminate_holder(db, pid), lock.end_prisma_sessions_since(db, since)
    verify.check_deployable(report, config) -> pending; verify.verify_applied(db, config, names, backup)
    findings.lint_pending(dir, pending, pg_version), findings.decide_backup(policy, report)
    backup.take_verified_backup(db, config, run_id, pending) -> TakenBackup (verified, pinned)
    migrate.run_migrate(config, run_id, timeout, on_cleanup=run.on_cleanup) -> MigrateResult
    notify.notify_run(config.notify, record, warn=..., info=...)
"""
