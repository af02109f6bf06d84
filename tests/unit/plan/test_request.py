from migtool.lint.model import Finding
from migtool.plan.request import Request, analyze, reason_in, render

SAFE = ('-- reason: support needs a phone number\nSET lock_timeout = \'5s\';\n'
        'ALTER TABLE "User" ADD COLUMN "phone" TEXT;\n')
BACKFILL = 'DO $$ BEGIN UPDATE "User" SET "phone" = \'x\' WHERE "id" IN (SELECT "id" FROM "User" FOR UPDATE); END $$;'
BREAKING = 'ALTER TABLE "User" DROP COLUMN "name";\nCREATE TABLE "Tag" ("id" INT, "label" TEXT);'


def test_statements_in_words():
    m = analyze("m", "m", SAFE + BACKFILL + BREAKING + 'CREATE INDEX "i" ON "User"("email");')
    assert [c.text for c in m.changes] == [
        'add column "User"."phone" (TEXT, nullable)',
        'DO block updating "User" (batched backfill)',
        'drop column "User"."name"',
        'create table "Tag" ("id", "label")',
        'create index "i" on "User" ("email")',
    ]
    assert [c.plan for c in m.changes if c.plan] == ["migtool plan drop-column User name",
                                                     "migtool plan add-index User email"]


def test_reason_comment():
    assert reason_in(SAFE) == "support needs a phone number"
    assert reason_in("SELECT 1;") is None


def test_a_file_that_does_not_parse_is_not_compatible():
    m = analyze("bad", "bad", "ALTER TABLE (;")
    req = Request([m], None, [], {}, "before-bad", ["bad"], "2025-01-01")
    assert not req.compatible
    assert "**does not parse**" in render(req)


def _finding(rule, severity, suppressed=False):
    return Finding(rule, severity, "f.sql", 1, 1, "stmt", f"{rule} message", "1. step one\n2. step two",
                   suppressed, "why" if suppressed else None)


def test_breaking_change_gets_the_rollout_plan_and_row_estimates():
    m = analyze("20250101000000_drop_name", "p", BREAKING)
    req = Request([m], "cleanup", [_finding("drop-column", "danger")], {"User": "about 10 (pg_class.reltuples)"},
                  "before-drop-name", ["p"], "2025-01-01")
    text = render(req)
    assert "**No**" in text
    assert "- `migtool plan drop-column User name` writes the phased migrations and PLAN.md" in text
    assert "  1. step one" in text
    assert '| "User" | about 10 (pg_class.reltuples) |' in text
    assert '| "Tag" | 0 (created by this change) |' in text
    assert "Old code breaks on the new schema" in text
    assert "### Data backfill required\n\nNo." in text


def test_suppressed_danger_is_accepted_and_listed():
    m = analyze("m", "p", BREAKING)
    req = Request([m], None, [_finding("drop-column", "danger", suppressed=True)], {}, "b", ["p"], "d")
    text = render(req, "github")
    assert req.compatible and "**Yes**" in text
    assert "Accepted on purpose" in text and "`drop-column` at `f.sql:1`: why" in text
    assert text.startswith("<!-- migtool:request -->") and "<details>" in text
    assert '| "User" | unknown (database not reachable) |' in text


def test_more_statements_in_words():
    m = analyze("m", "m", 'DROP TABLE "Old", public."Older"; DROP INDEX CONCURRENTLY "i"; '
                          'ALTER TABLE "A" ADD CONSTRAINT "f" FOREIGN KEY ("u") REFERENCES "U"("id") NOT VALID; '
                          'INSERT INTO "A" ("x") SELECT "y" FROM "B"; ALTER TABLE "A" ALTER COLUMN "c" TYPE BIGINT;')
    assert [c.text for c in m.changes] == [
        'drop table "Old", "public"."Older"',
        'drop index CONCURRENTLY "i"',
        'add foreign key constraint "f" on "A" referencing "U" NOT VALID',
        'insert into "A" ... select (copies rows)',
        'change the type of "A"."c" to BIGINT',
    ]
    assert [c.backfill for c in m.changes] == [False, False, False, True, False]
    assert m.changes[0].plan == "migtool plan drop-table Old"
    assert m.changes[2].plan is None  # already NOT VALID: nothing to plan
    assert m.changes[4].plan == "migtool plan change-column-type A c BIGINT"


def test_a_planned_backfill_phase_is_reported():
    sql = "-- Plan: `migtool plan add-required-column User phone TEXT --default x`, release 1 of 3 (see PLAN.md)\n" + SAFE
    req = Request([analyze("m", "p", sql)], None, [], {}, "b", ["p"], "d")
    assert req.backfills == ["a planned backfill phase of `migtool plan add-required-column User phone TEXT "
                             "--default x` (this is release 1 of 3; PLAN.md says which release backfills)"]
    plain = Request([analyze("m", "p", SAFE)], None, [], {}, "b", ["p"], "d")
    assert plain.backfills == []
