"""A corpus shaped like real Prisma migration histories, for bench/lint_bench.py.

Real histories are not 1,000 similar small files: a project starts with one or a few large init
migrations (hundreds of CREATE TYPE / CREATE TABLE / CREATE INDEX / ADD FOREIGN KEY statements, as
`prisma migrate dev` writes them after `db pull`), followed by many small ones (a column, an index,
an enum value, a dropped column with Prisma's warning block). Prisma quotes every identifier and
precedes each statement with a `-- CreateTable`-style comment; hand edits add SQL comments,
`SET lock_timeout`, backfills and the odd DO block.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

TYPES = ["TEXT", "INTEGER", "BOOLEAN", "TIMESTAMP(3)", "DOUBLE PRECISION", "JSONB", "DECIMAL(65,30)",
         "VARCHAR(191)", "BIGINT", "UUID", "TEXT[]"]
NOUNS = ["user", "account", "session", "organization", "membership", "project", "task", "comment", "invoice",
         "payment", "subscription", "plan", "product", "variant", "order", "lineItem", "shipment", "address",
         "notification", "webhook", "apiKey", "auditLog", "file", "folder", "tag", "label", "review", "coupon",
         "event", "device", "integration", "report", "dashboard", "widget", "team", "role", "permission"]


def _pascal(word: str) -> str:
    return word[0].upper() + word[1:]


def _column(rng: random.Random, name: str) -> str:
    typ = rng.choice(TYPES)
    null = " NOT NULL" if rng.random() < 0.55 else ""
    default = ""
    if null and typ == "BOOLEAN":
        default = " DEFAULT false"
    elif null and typ == "TIMESTAMP(3)" and rng.random() < 0.5:
        default = " DEFAULT CURRENT_TIMESTAMP"
    elif null and typ == "INTEGER" and rng.random() < 0.3:
        default = " DEFAULT 0"
    return f'    "{name}" {typ}{null}{default}'


class History:
    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.tables: dict[str, list[str]] = {}
        self.enums: list[str] = []
        self.n = 0

    def _name(self) -> str:
        self.n += 1
        return f"{_pascal(self.rng.choice(NOUNS))}{self.n}"

    def create_table(self) -> list[str]:
        rng, table = self.rng, self._name()
        cols = ['    "id" TEXT NOT NULL']
        names = ["id"]
        for i in range(rng.randint(3, 14)):
            name = f"{rng.choice(NOUNS)}Field{i}"
            cols.append(_column(rng, name))
            names.append(name)
        if self.enums and rng.random() < 0.3:
            cols.append(f'    "status" "{rng.choice(self.enums)}" NOT NULL')
        cols += ['    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP', '    "updatedAt" TIMESTAMP(3) NOT NULL']
        body = ",\n".join(cols)
        out = [f'-- CreateTable\nCREATE TABLE "{table}" (\n{body},\n\n    CONSTRAINT "{table}_pkey" PRIMARY KEY ("id")\n);']
        if rng.random() < 0.4:
            out.append(f'-- CreateIndex\nCREATE UNIQUE INDEX "{table}_{names[1]}_key" ON "{table}"("{names[1]}");')
        if rng.random() < 0.5:
            out.append(f'-- CreateIndex\nCREATE INDEX "{table}_createdAt_idx" ON "{table}"("createdAt");')
        self.tables[table] = names
        return out

    def foreign_key(self, table: str) -> list[str]:
        parent = self.rng.choice(list(self.tables))
        col = f"{parent[0].lower()}{parent[1:]}Id"
        return [f'-- AddForeignKey\nALTER TABLE "{table}" ADD CONSTRAINT "{table}_{col}_fkey" FOREIGN KEY ("{col}") '
                f'REFERENCES "{parent}"("id") ON DELETE CASCADE ON UPDATE CASCADE;']

    def init_migration(self, statements: int) -> str:
        """One large init file: enums, tables with indexes, then the foreign keys, as Prisma orders them."""
        rng = self.rng
        parts: list[str] = []
        for _ in range(max(1, statements // 40)):
            enum = self._name() + "Kind"
            values = ", ".join(f"'{v}'" for v in rng.sample(["ACTIVE", "PAUSED", "CLOSED", "DRAFT", "OWNER",
                                                              "ADMIN", "MEMBER", "GUEST"], 4))
            parts.append(f"-- CreateEnum\nCREATE TYPE \"{enum}\" AS ENUM ({values});")
            self.enums.append(enum)
        created = []
        while len(parts) < statements * 0.75:
            before = set(self.tables)
            parts += self.create_table()
            created += [t for t in self.tables if t not in before]
        for table in created:
            if len(parts) >= statements:
                break
            parts += self.foreign_key(table)
        return "\n\n".join(parts) + "\n"

    def small_migration(self) -> str:
        rng = self.rng
        table = rng.choice(list(self.tables))
        cols = self.tables[table]
        kind = rng.random()
        if kind < 0.25:
            parts = self.create_table()
            parts += self.foreign_key(list(self.tables)[-1])
        elif kind < 0.5:
            parts = []
            for _ in range(rng.randint(1, 3)):
                name = f"{rng.choice(NOUNS)}Extra{self.n}"
                self.n += 1
                cols.append(name)
                parts.append(f'-- AlterTable\nALTER TABLE "{table}" ADD COLUMN     "{name}" {rng.choice(TYPES)};')
        elif kind < 0.62:
            parts = [f'-- CreateIndex\nCREATE INDEX "{table}_{cols[-1]}_idx" ON "{table}"("{cols[-1]}");']
        elif kind < 0.7 and self.enums:
            parts = [f"-- AlterEnum\nALTER TYPE \"{rng.choice(self.enums)}\" ADD VALUE 'ARCHIVED{self.n}';"]
            self.n += 1
        elif kind < 0.78 and len(cols) > 3:
            col = cols.pop()
            parts = [f"/*\n  Warnings:\n\n  - You are about to drop the column `{col}` on the `{table}` table. All the data "
                     f"in the column will be lost.\n\n*/\n-- AlterTable\nALTER TABLE \"{table}\" DROP COLUMN \"{col}\";"]
        elif kind < 0.84:
            parts = [f'-- AlterTable\nALTER TABLE "{table}" ALTER COLUMN "{cols[-1]}" SET DATA TYPE TEXT;']
        elif kind < 0.9:
            name = f"flag{self.n}"
            self.n += 1
            parts = ["-- hand edit: bounded lock wait\nSET lock_timeout = '5s';",
                     f'-- AlterTable\nALTER TABLE "{table}" ADD COLUMN "{name}" BOOLEAN NOT NULL DEFAULT false;',
                     f'UPDATE "{table}" SET "{name}" = true WHERE "createdAt" < now() - interval \'1 year\';']
        elif kind < 0.95:
            parts = [f'-- DropIndex\nDROP INDEX IF EXISTS "{table}_createdAt_idx";',
                     f'-- CreateIndex\nCREATE INDEX "{table}_updatedAt_idx" ON "{table}"("updatedAt");']
        else:
            parts = [f'DO $$\nBEGIN\n  IF NOT EXISTS (SELECT 1 FROM pg_indexes WHERE indexname = \'{table}_x\') THEN\n'
                     f'    CREATE INDEX "{table}_x" ON "{table}"("id");\n  END IF;\nEND\n$$;']
        return "\n\n".join(parts) + "\n"


def generate_history(root: Path, small: int = 600, inits: tuple[int, ...] = (900, 600, 500), seed: int = 10) -> list[Path]:
    """Write a history: the large init files first (a squashed baseline and two later imports), then
    `small` small migrations, as <timestamp>_<name>/migration.sql folders under root."""
    hist = History(seed)
    start = datetime(2023, 1, 1, tzinfo=UTC)
    texts = [("init", hist.init_migration(inits[0]))]
    rest = list(inits[1:])
    for i in range(small):
        if rest and i in (small // 3, 2 * small // 3):
            texts.append(("import", hist.init_migration(rest.pop(0))))
        texts.append(("change", hist.small_migration()))
    files = []
    for n, (label, text) in enumerate(texts):
        folder = root / f"{(start + timedelta(hours=n)).strftime('%Y%m%d%H%M%S')}_{label}_{n}"
        folder.mkdir(parents=True)
        (folder / "migration.sql").write_text(text, encoding="utf-8")
        files.append(folder / "migration.sql")
    return files
