"""Time `migtool lint` against squawk on two corpora of Prisma-style migrations.

    .venv/bin/pip install -e '.[bench]'      # brings the squawk binary (squawk-cli)
    .venv/bin/python bench/lint_bench.py     # --files 1000 --runs 15

- "generated": 1,000 similar small migrations (the original bench);
- "history": shaped like real histories (bench/history_corpus.py): a few large init files of
  500-900 statements, ~600 small ones, Prisma's quoting and comments, hand edits.

Each tool runs as a fresh process over the same files (cold: interpreter start, imports, parsing
and rule checks all count), several times, interleaved; the medians and their ratio are printed for
both corpora and written to bench/results/lint.json. Our goal is migtool/squawk <= 1.5 on each.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENV_BIN = Path(sys.executable).parent
sys.path.insert(0, str(HERE))

from history_corpus import generate_history  # noqa: E402 - bench/ is not a package

TYPES = ["TEXT", "INTEGER", "BOOLEAN", "TIMESTAMP(3)", "DOUBLE PRECISION", "JSONB", "DECIMAL(10,2)",
         "VARCHAR(255)", "BIGINT"]
WORDS = ["user", "order", "invoice", "product", "tag", "comment", "session", "account", "team", "payment",
         "address", "shipment", "review", "coupon", "audit", "event", "device", "plan", "report", "file"]


def _camel(*parts: str) -> str:
    return parts[0] + "".join(p.capitalize() for p in parts[1:])


def _pascal(word: str, n: int) -> str:
    return f"{word.capitalize()}{n}"


def _create_table(rng: random.Random, table: str, enum: str | None) -> str:
    cols = ['    "id" SERIAL NOT NULL']
    for i in range(rng.randint(2, 8)):
        typ = rng.choice(TYPES)
        null = " NOT NULL" if rng.random() < 0.5 else ""
        default = " DEFAULT false" if typ == "BOOLEAN" and null else ""
        cols.append(f'    "{_camel(rng.choice(WORDS), "field", str(i))}" {typ}{null}{default}')
    if enum:
        cols.append(f'    "status" "{enum}" NOT NULL DEFAULT \'ACTIVE\'')
    cols.append('    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP')
    cols.append('    "updatedAt" TIMESTAMP(3) NOT NULL')
    body = ",\n".join(cols)
    return f'-- CreateTable\nCREATE TABLE "{table}" (\n{body},\n\n    CONSTRAINT "{table}_pkey" PRIMARY KEY ("id")\n);\n'


EXISTING = ("User", "Order", "Product", "Invoice", "Account", "Session", "Payment", "Team")


def _pick(rng: random.Random, tables: list[str]) -> str:
    """Half the changes hit the long-lived production tables, half the ones added by the corpus."""
    return rng.choice(EXISTING) if rng.random() < 0.5 else rng.choice(tables)


def _migration(rng: random.Random, n: int, tables: list[str]) -> str:
    """One migration.sql in the shape `prisma migrate dev` writes (with some hand edits)."""
    parts: list[str] = []
    kind = rng.random()
    if kind < 0.35 or len(tables) < 3:
        enum = None
        if rng.random() < 0.3:
            enum = _pascal("status", n)
            parts.append(f"-- CreateEnum\nCREATE TYPE \"{enum}\" AS ENUM ('ACTIVE', 'PAUSED', 'CLOSED');\n")
        table = _pascal(rng.choice(WORDS), n)
        parts.append(_create_table(rng, table, enum))
        parts.append(f'-- CreateIndex\nCREATE UNIQUE INDEX "{table}_slug_key" ON "{table}"("createdAt", "id");\n')
        if tables:
            parent = rng.choice(tables)
            parts.append(f'-- AlterTable\nALTER TABLE "{table}" ADD COLUMN "{_camel(parent.lower(), "id")}" INTEGER;\n')
            parts.append(
                f'-- AddForeignKey\nALTER TABLE "{table}" ADD CONSTRAINT "{table}_parent_fkey" FOREIGN KEY '
                f'("{_camel(parent.lower(), "id")}") REFERENCES "{parent}"("id") ON DELETE SET NULL ON UPDATE CASCADE;\n')
        tables.append(table)
    elif kind < 0.6:
        table = _pick(rng, tables)
        for i in range(rng.randint(1, 3)):
            col = _camel(rng.choice(WORDS), "note", str(n), str(i))
            parts.append(f'-- AlterTable\nALTER TABLE "{table}" ADD COLUMN     "{col}" {rng.choice(TYPES)};\n')
        if rng.random() < 0.3:
            parts.append(f'-- AlterTable\nALTER TABLE "{table}" ADD COLUMN "flag{n}" BOOLEAN NOT NULL DEFAULT false;\n')
    elif kind < 0.75:
        table = _pick(rng, tables)
        concurrently = "CONCURRENTLY " if rng.random() < 0.3 else ""
        parts.append(f'-- CreateIndex\nCREATE INDEX {concurrently}"{table}_createdAt_{n}_idx" ON "{table}"("createdAt");\n')
    elif kind < 0.85:
        table = _pick(rng, tables)
        parts.append("SET lock_timeout = '5s';\n")
        parts.append(f'-- AlterTable\nALTER TABLE "{table}" ADD CONSTRAINT "{table}_chk_{n}" CHECK ("id" > 0) NOT VALID;\n')
        parts.append(f'-- Validate\nALTER TABLE "{table}" VALIDATE CONSTRAINT "{table}_chk_{n}";\n')
    else:
        # The dangerous ones a reviewer should catch.
        table = _pick(rng, tables)
        danger = rng.randrange(6)
        if danger == 0:
            parts.append(f'/*\n  Warnings:\n\n  - You are about to drop the column `updatedAt` on the `{table}` table. '
                         'All the data in the column will be lost.\n\n*/\n'
                         f'-- AlterTable\nALTER TABLE "{table}" DROP COLUMN "updatedAt";\n')
        elif danger == 1:
            parts.append(f'-- AlterTable\nALTER TABLE "{table}" RENAME COLUMN "createdAt" TO "created_at";\n')
        elif danger == 2:
            parts.append(f'-- AlterTable\nALTER TABLE "{table}" ALTER COLUMN "id" SET DATA TYPE BIGINT;\n')
        elif danger == 3:
            parts.append(f'-- AlterTable\nALTER TABLE "{table}" ADD COLUMN "ref{n}" TEXT NOT NULL;\n')
        elif danger == 4:
            parts.append(f'-- AlterTable\nALTER TABLE "{table}" ALTER COLUMN "updatedAt" SET NOT NULL;\n')
        else:
            parts.append(f'-- AlterTable\nALTER TABLE "{table}" ADD COLUMN "uid{n}" UUID NOT NULL DEFAULT gen_random_uuid();\n')
    return "\n".join(parts)


def generate_corpus(root: Path, count: int, seed: int = 5) -> list[Path]:
    """Write `count` migration folders (<timestamp>_<name>/migration.sql) under root."""
    rng = random.Random(seed)
    # Tables of the production schema that existed before these migrations (as in a real project,
    # where only the newest migrations are linted): changes to them are what the rules judge.
    tables: list[str] = list(EXISTING)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    files = []
    for n in range(count):
        stamp = (start + timedelta(hours=n)).strftime("%Y%m%d%H%M%S")
        folder = root / f"{stamp}_migration_{n}"
        folder.mkdir(parents=True)
        path = folder / "migration.sql"
        path.write_text(_migration(rng, n, tables), encoding="utf-8")
        files.append(path)
    return files


def _run_once(argv: list[str], cwd: Path) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds of the process: user + system, exit code) of one cold run."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    stderr = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - t0
    proc.returncode = code = os.waitstatus_to_exitcode(status)
    proc.stderr.close()
    if code not in (0, 1):
        raise SystemExit(f"{argv[0]} failed with exit code {code}:\n{stderr.decode()[-2000:]}")
    return elapsed, usage.ru_utime + usage.ru_stime, code


def _time_interleaved(a: list[str], b: list[str], runs: int, cwd: Path):
    """Alternate the two tools so that load from other processes hits both alike."""
    runs_a, runs_b = [], []
    for _ in range(runs):
        runs_a.append(_run_once(a, cwd)[:2])
        runs_b.append(_run_once(b, cwd)[:2])
    return runs_a, runs_b


def _stats(runs: list[tuple[float, float]]) -> dict:
    walls = [w for w, _ in runs]
    cpus = [c for _, c in runs]
    return {"median_s": round(statistics.median(walls), 4), "min_s": round(min(walls), 4),
            "cpu_median_s": round(statistics.median(cpus), 4), "runs_s": [round(w, 4) for w in walls]}


def _compile_package() -> None:
    """Write migtool's bytecode, as `pip install` does for a regular install (an editable install
    under PYTHONDONTWRITEBYTECODE would otherwise recompile every module on every run)."""
    import compileall
    import importlib.util

    spec = importlib.util.find_spec("migtool")
    if spec and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            compileall.compile_dir(location, quiet=1)


def _bench_corpus(label: str, files: list[Path], tmp: Path, migtool: str, squawk: str, runs: int) -> dict:
    rel_files = [str(p.relative_to(tmp)) for p in files]
    folder = str(files[0].parent.parent.relative_to(tmp))
    # Both tools read the same files and write JSON; squawk takes the file list, migtool the
    # migrations folder (its ordinary use). Neither needs a database.
    mig_argv = [migtool, "lint", "--format", "json", "--pg-version", "15", folder]
    sq_argv = [squawk, "--reporter", "json", "--pg-version", "15", *rel_files]
    # One warm-up each so the page cache holds the files and binaries for both alike.
    _, _, mig_code = _run_once(mig_argv, tmp)
    _, _, sq_code = _run_once(sq_argv, tmp)
    mig_runs, sq_runs = _time_interleaved(mig_argv, sq_argv, runs, tmp)
    report = json.loads(subprocess.run(mig_argv, cwd=tmp, capture_output=True).stdout)
    mig, sq = _stats(mig_runs), _stats(sq_runs)
    statements = sum(1 for p in files for line in p.read_text().splitlines() if line.rstrip().endswith(";"))
    return {
        "corpus": label,
        "files": len(files),
        "bytes": sum(p.stat().st_size for p in files),
        "statements_approx": statements,
        "migtool": {**mig, "exit_code": mig_code, "findings": len(report["findings"]), "summary": report["summary"]},
        "squawk": {**sq, "exit_code": sq_code},
        "ratio_migtool_over_squawk": round(mig["median_s"] / sq["median_s"], 2),
        "ratio_of_min_wall": round(mig["min_s"] / sq["min_s"], 2),
        "ratio_of_cpu": round(mig["cpu_median_s"] / sq["cpu_median_s"], 2),
    }


def _print(result: dict) -> None:
    mig, sq = result["migtool"], result["squawk"]
    print(f"{result['corpus']}: {result['files']} files, {result['bytes'] // 1000} kB, "
          f"~{result['statements_approx']} statements")
    print(f"  migtool lint: median {mig['median_s']:.3f} s, min {mig['min_s']:.3f} s, "
          f"CPU {mig['cpu_median_s']:.3f} s  ({mig['findings']} findings)")
    print(f"  squawk:       median {sq['median_s']:.3f} s, min {sq['min_s']:.3f} s, CPU {sq['cpu_median_s']:.3f} s")
    print(f"  ratio migtool/squawk: {result['ratio_migtool_over_squawk']:.2f} median wall (goal <= 1.5), "
          f"{result['ratio_of_min_wall']:.2f} min wall, {result['ratio_of_cpu']:.2f} CPU")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=1000, help="files in the generated corpus (default 1000)")
    ap.add_argument("--runs", type=int, default=15, help="cold runs per tool; the median counts (default 15)")
    ap.add_argument("--output", type=Path, default=HERE / "results" / "lint.json")
    ap.add_argument("--keep", action="store_true", help="keep the corpora and print where they are")
    args = ap.parse_args(argv)

    migtool = shutil.which("migtool", path=str(VENV_BIN)) or shutil.which("migtool")
    squawk = shutil.which("squawk", path=str(VENV_BIN)) or shutil.which("squawk")
    if not migtool:
        raise SystemExit("migtool is not installed in this environment: .venv/bin/pip install -e .")
    if not squawk:
        raise SystemExit("the squawk binary is missing: .venv/bin/pip install -e '.[bench]' (squawk-cli)")

    tmp = Path(tempfile.mkdtemp(prefix="lint-bench-"))
    try:
        generated = generate_corpus(tmp / "generated", args.files)
        history = generate_history(tmp / "history")
        _compile_package()
        results = [_bench_corpus("generated", generated, tmp, migtool, squawk, args.runs),
                   _bench_corpus("history", history, tmp, migtool, squawk, args.runs)]
        squawk_version = subprocess.run([squawk, "--version"], capture_output=True, text=True).stdout.strip()
        if args.keep:
            print(f"corpora kept in {tmp}")
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)

    result = {
        "runs": args.runs,
        "corpora": results,
        "ratios_migtool_over_squawk": {r["corpus"]: r["ratio_migtool_over_squawk"] for r in results},
        "squawk_version": squawk_version,
        "goal_ratio": 1.5,
        "cores": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "note": "squawk parses on several threads; migtool forks one parsing child from 200 files on. On a busy "
                "machine the wall-clock ratio moves with the load: compare min and CPU ratios too.",
        "python": platform.python_version(),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"{args.runs} cold runs per tool and corpus, interleaved (load average {result['load_average_1min']}, "
          f"{squawk_version})")
    for r in results:
        _print(r)
    print("ratios migtool/squawk (median wall): " + ", ".join(f"{k} {v:.2f}" for k, v in
                                                              result["ratios_migtool_over_squawk"].items()))
    print(f"written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
