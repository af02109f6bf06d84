#!/usr/bin/env bash
# Emergency restore of a PostgreSQL backup without Python (and without migtool's config): the
# backup is proven whole before any database is touched, and a failed restore leaves the previous
# database exactly as it was. Companion of scripts/backup/postgres-backup.sh; `migtool restore`
# does the same with more checks and a progress display.
set -euo pipefail
umask 077

usage() {
  cat <<'EOF'
Usage: postgres-restore.sh BACKUP [-c] [--yes] [--target-db NAME] [--jobs N] [--identity FILE]

Restore a backup written by migtool or postgres-backup.sh:
  .sql.gz  .sql.zst  .sql  .dump  .dump.zst  .dump.gz   (each may end in .age: encrypted)

An encrypted backup (.age) is decrypted with the age CLI (apt-get install age) and the private key
file in --identity FILE or $MIGTOOL_AGE_IDENTITY; without one it is refused (exit 2), with a key
that is not one of its recipients too (exit 1). The plaintext only ever flows through pipes (and,
for --jobs with -c, a private temp file that is removed afterwards).

Before touching any database the backup is checked: BACKUP.sha256 when present (and the size in
BACKUP.json), then the whole stream is decompressed and read to its end (pg_restore reads every
block of a custom archive; a plain dump must end with pg_dump's completion line). A truncated,
corrupt or mismatched file is refused (exit 1) and no database is touched.

Options:
  -c, --clean          replace the database's content: the backup is restored into a new database
                       beside the target and the names are swapped only when that succeeded; the
                       previous database is kept as <db>_before_restore_<time> (drop it when sure)
  --yes                do not ask (needed when there is no terminal to ask on)
  --target-db NAME     restore into this database (default: the connection's database)
  --jobs N             parallel pg_restore jobs for custom archives (default: the CPU count;
                       direct target with -c only: the archive is decompressed to a temp file)
  --compose-file FILE  compose file (default: $COMPOSE_FILE or deploy/docker-compose.yml)
  --service NAME       postgres service name (default: postgres)
  --identity FILE      age private key file for a .age backup (default: $MIGTOOL_AGE_IDENTITY)
  -h, --help           this help

Without -c the backup goes into the target in ONE transaction (ON_ERROR_STOP / --single-transaction):
all or nothing. That suits an empty or missing database (a missing one is created).

Where the database is:
  DATABASE_URL set     postgresql://USER:PASSWORD@HOST:PORT/DB?sslmode=...  (local psql/pg_restore;
                       parsed into PG* variables: the password never appears in a command line)
  otherwise            docker compose -f FILE exec -T postgres psql -U "$DB_USER" -d "$DB_NAME"
                       (DB_USER/DB_NAME default to the container's POSTGRES_USER/POSTGRES_DB)

Exit status: 0 restored, 1 refused or failed (the previous database is intact and named), 2 bad usage.
EOF
}

say() { echo "postgres-restore: $*" >&2; }
die() { echo "postgres-restore: error: $1" >&2; exit "${2:-1}"; }

backup=""
clean=no
assume_yes=no
target_db=""
jobs=""
compose_file=${COMPOSE_FILE:-deploy/docker-compose.yml}
service=postgres
identity=${MIGTOOL_AGE_IDENTITY:-}

while [[ $# -gt 0 ]]; do
  case $1 in
    -c|--clean) clean=yes; shift ;;
    --yes|-y) assume_yes=yes; shift ;;
    --target-db) [[ $# -ge 2 ]] || die "--target-db needs a value" 2; target_db=$2; shift 2 ;;
    --jobs|-j) [[ $# -ge 2 ]] || die "--jobs needs a value" 2; jobs=$2; shift 2 ;;
    --compose-file) [[ $# -ge 2 ]] || die "--compose-file needs a value" 2; compose_file=$2; shift 2 ;;
    --service) [[ $# -ge 2 ]] || die "--service needs a value" 2; service=$2; shift 2 ;;
    --identity) [[ $# -ge 2 ]] || die "--identity needs a value" 2; identity=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    --) shift; [[ $# -eq 1 && -z $backup ]] || die "exactly one BACKUP" 2; backup=$1; shift ;;
    -*) usage >&2; die "unknown option: $1" 2 ;;
    *) [[ -z $backup ]] || die "only one BACKUP, got '$backup' and '$1'" 2; backup=$1; shift ;;
  esac
done
[[ -n $backup ]] || { usage >&2; die "which backup? (e.g. backups/app-20250101T120000Z-manual.dump.zst)" 2; }
if [[ -z $jobs ]]; then jobs=$(nproc 2>/dev/null || echo 2); fi
[[ $jobs =~ ^[1-9][0-9]*$ ]] || die "--jobs must be a positive number" 2
[[ -f $backup ]] || die "backup not found: $backup (list them: ls -lt backups/)"

name=${backup##*/}
inner=$name
encrypted=no
if [[ $name == *.age ]]; then encrypted=yes; inner=${name%.age}; fi
case $inner in
  *.sql.gz) format=sql; decompress=(gzip -dc) ;;
  *.sql.zst) format=sql; decompress=(zstd -dcq) ;;
  *.sql) format=sql; decompress=(cat) ;;
  *.dump.gz) format=custom; decompress=(gzip -dc) ;;
  *.dump.zst) format=custom; decompress=(zstd -dcq) ;;
  *.dump) format=custom; decompress=(cat) ;;
  *) die "cannot tell the format of $name (expected .sql.gz, .sql.zst, .sql, .dump, .dump.zst or .dump.gz, optionally + .age)" 2 ;;
esac
if [[ ${decompress[0]} == gzip ]] && command -v pigz >/dev/null; then decompress=(pigz -dc); fi
command -v "${decompress[0]}" >/dev/null || die "${decompress[0]} is not installed (apt-get install ${decompress[0]})"
age_err=""
if [[ $encrypted == yes ]]; then
  [[ -n $identity ]] || die "$name is encrypted: an age identity (private key file) is needed to read it; set MIGTOOL_AGE_IDENTITY=/path/to/key.txt or pass --identity /path/to/key.txt" 2
  [[ -f $identity && -r $identity ]] || die "age identity file not found or not readable: $identity" 2
  command -v age >/dev/null || die "$name is encrypted and the age CLI is not installed (apt-get install age)"
  # age's complaints (wrong key, damaged file) land here: the checks below explain a failed read with them.
  age_err=$(mktemp "${TMPDIR:-/tmp}/postgres-restore.age.XXXXXX")
  trap 'rm -f -- "$age_err"' EXIT
  # The key is a file path on age's command line, never its content.
  decompress_backup() { age -d -i "$identity" -- "$backup" 2>"$age_err" | "${decompress[@]}"; }
else
  decompress_backup() { "${decompress[@]}" -- "$backup"; }
fi
# why_unreadable: age's reason when decryption failed, for the refusal message.
why_unreadable() {
  [[ -n $age_err && -s $age_err ]] || return 1
  if grep -qi "no identity matched" "$age_err"; then
    printf 'the age identity %s does not match this backup'"'"'s recipients (use the key of one of the recipients in %s.json)' "$identity" "$name"
  else
    printf 'age cannot decrypt it: %s' "$(tail -n1 "$age_err")"
  fi
}

# ------------------------------------------------------------------ where the database is
urldecode() { local s=${1//+/%2B}; printf '%b' "${s//%/\\x}"; }

# DATABASE_URL -> PG* variables (exported: libpq reads them; nothing secret goes into argv).
parse_database_url() {
  local url=$1 rest query="" path="" userinfo="" hostport host port pair key value
  [[ $url =~ ^postgres(ql)?:// ]] || die "DATABASE_URL must start with postgresql://" 2
  rest=${url#*://}
  if [[ $rest == *\?* ]]; then query=${rest#*\?}; rest=${rest%%\?*}; fi
  if [[ $rest == */* ]]; then path=${rest#*/}; rest=${rest%%/*}; fi
  hostport=$rest
  if [[ $rest == *@* ]]; then userinfo=${rest%@*}; hostport=${rest##*@}; fi
  if [[ -n $userinfo ]]; then
    export PGUSER; PGUSER=$(urldecode "${userinfo%%:*}")
    if [[ $userinfo == *:* ]]; then export PGPASSWORD; PGPASSWORD=$(urldecode "${userinfo#*:}"); fi
  fi
  if [[ $hostport == \[*\]* ]]; then
    host=${hostport%%]*}; host=${host#[}; port=${hostport#*]}; port=${port#:}
  else
    host=${hostport%%:*}; port=""; [[ $hostport == *:* ]] && port=${hostport#*:}
  fi
  if [[ -n $host ]]; then export PGHOST; PGHOST=$(urldecode "$host"); fi
  if [[ -n $port ]]; then export PGPORT=$port; fi
  if [[ -n $path ]]; then export PGDATABASE; PGDATABASE=$(urldecode "$path"); fi
  IFS='&' read -r -a pairs <<<"$query"
  for pair in "${pairs[@]}"; do
    [[ -z $pair ]] && continue
    key=${pair%%=*}; value=$(urldecode "${pair#*=}")
    case $key in
      sslmode) export PGSSLMODE=$value ;;
      sslrootcert) export PGSSLROOTCERT=$value ;;
      sslcert) export PGSSLCERT=$value ;;
      sslkey) export PGSSLKEY=$value ;;
      connect_timeout) export PGCONNECT_TIMEOUT=$value ;;
      application_name) export PGAPPNAME=$value ;;
      password) export PGPASSWORD=$value ;;
      user) export PGUSER=$value ;;
      host) export PGHOST=$value ;;
      port) export PGPORT=$value ;;
      dbname) export PGDATABASE=$value ;;
      schema|options) ;;  # Prisma's schema; options would change our sessions: ignored
      *) die "DATABASE_URL parameter '$key' is not supported" 2 ;;
    esac
  done
}

if [[ -n ${DATABASE_URL:-} ]]; then
  mode=direct
  for tool in psql pg_restore; do
    command -v "$tool" >/dev/null || die "$tool is not installed (apt-get install postgresql-client)"
  done
  parse_database_url "$DATABASE_URL"
  unset DATABASE_URL PGOPTIONS
  conn_db=${PGDATABASE:-${PGUSER:-postgres}}
  where="${PGHOST:-local socket}:${PGPORT:-5432}"
else
  mode=compose
  command -v docker >/dev/null || die "docker is not installed and DATABASE_URL is not set"
  [[ -f $compose_file ]] || die "compose file not found: $compose_file (use --compose-file or DATABASE_URL)" 2
  compose=(docker compose -f "$compose_file")
  if [[ -z ${DB_USER:-} || -z ${DB_NAME:-} ]]; then
    # Ask the container for the credentials it was started with (as the official image does).
    creds=$("${compose[@]}" exec -T "$service" \
      sh -c 'printf "%s\n%s\n" "${POSTGRES_USER:-postgres}" "${POSTGRES_DB:-${POSTGRES_USER:-postgres}}"') \
      || die "cannot reach the $service service (start it: docker compose -f $compose_file up -d --wait $service)"
    container_user=$(printf '%s\n' "$creds" | sed -n 1p)
    container_db=$(printf '%s\n' "$creds" | sed -n 2p)
  fi
  db_user=${DB_USER:-${container_user:-postgres}}
  conn_db=${DB_NAME:-${container_db:-$db_user}}
  where="compose service $service ($compose_file)"
fi
target=${target_db:-$conn_db}
[[ ${#target} -le 63 ]] || die "database name longer than 63 bytes: $target" 2

# pg DB [psql args...]: psql connected to DB, stops at the first error; SQL comes on stdin or -c.
# Extra environment for the session (PGOPTIONS) comes from $session_options.
session_options=""
pg() {
  local db=$1; shift
  if [[ $mode == direct ]]; then
    PGOPTIONS=$session_options psql -X -q -w -v ON_ERROR_STOP=1 -d "$db" "$@"
  else
    "${compose[@]}" exec -T -e "PGOPTIONS=$session_options" "$service" \
      psql -X -q -w -v ON_ERROR_STOP=1 -U "$db_user" -d "$db" "$@"
  fi
}
# pgr [pg_restore args...]: pg_restore where the tools are (reads the archive on stdin or from a local file).
pgr() {
  if [[ $mode == direct ]]; then
    PGOPTIONS=$session_options pg_restore --no-password "$@"
  else
    "${compose[@]}" exec -T -e "PGOPTIONS=$session_options" "$service" pg_restore --no-password -U "$db_user" "$@"
  fi
}
# The maintenance database our CREATE/RENAME/DROP DATABASE statements run from (never the target:
# a database cannot be renamed from a session inside it).
admin_db=postgres
[[ $target == postgres ]] && admin_db=template1

# ------------------------------------------------------------------ 1. is the backup whole?
dir=$(cd -- "$(dirname -- "$backup")" && pwd)
manifest_file="$dir/$name.json"
manifest=""
[[ -r $manifest_file ]] && manifest=$(tr -d '\n' < "$manifest_file")
# json_field KEY: a top-level string or number from the manifest (good enough for our own manifests).
json_field() {
  local m
  m=$(printf '%s' "$manifest" | grep -o "\"$1\": *\(\"[^\"]*\"\|[0-9][0-9]*\|null\)" | head -n1) || true
  m=${m#*:}; m=${m# }; m=${m#\"}; m=${m%\"}
  [[ $m == null ]] && m=""
  printf '%s' "$m"
}

size=$(stat -c %s -- "$backup")
if [[ -n $manifest ]]; then
  recorded_size=$(json_field size)
  if [[ -n $recorded_size && $recorded_size != "$size" ]]; then
    die "refusing $name: it has $size bytes, its manifest says $recorded_size (truncated or replaced); no database was touched"
  fi
fi
sum_file="$dir/$name.sha256"
if [[ -f $sum_file ]]; then
  expected=$(awk -v n="$name" '{ f = $2; sub(/^\*/, "", f); if (f == n) { print tolower($1); exit } }' "$sum_file")
  [[ -n $expected ]] || die "refusing $name: $name.sha256 has no line for it; no database was touched"
  say "checking the sha256 of $name ..."
  actual=$(sha256sum < "$backup" | cut -d' ' -f1)
  [[ $actual == "$expected" ]] || die "refusing $name: checksum mismatch (the file hashes to ${actual:0:16}..., $name.sha256 says ${expected:0:16}...): corrupt or modified; no database was touched"
else
  say "warning: no $name.sha256 beside the backup: only the stream check below proves it whole"
fi

decrypting=""
[[ $encrypted == yes ]] && decrypting=" (decrypting with age)"
say "reading the whole backup to its end$decrypting ..."
if [[ $format == sql ]]; then
  if ! tail_text=$(decompress_backup | tail -c 4096 | tr -d '\000'); then
    if why=$(why_unreadable); then die "refusing $name: $why; no database was touched"; fi
    die "refusing $name: it does not decompress to its end (truncated or corrupt); no database was touched"
  fi
  [[ $tail_text == *"-- PostgreSQL database dump complete"* ]] \
    || die "refusing $name: the dump has no pg_dump completion line at its end (incomplete); no database was touched"
else
  if ! check_err=$( { decompress_backup | pgr -f /dev/null; } 2>&1 ); then
    if why=$(why_unreadable); then die "refusing $name: $why; no database was touched"; fi
    die "refusing $name: it cannot be read to its end (truncated or corrupt): $(printf '%s' "$check_err" | tail -n1); no database was touched"
  fi
fi
say "the backup is whole ($size bytes, $format)"

# ------------------------------------------------------------------ 2. what is about to happen
qdb() { pg "$admin_db" -At -v t="$1" -f - ; }  # read-only lookups from the maintenance database
server_version=$(pg "$admin_db" -At -c "SHOW server_version") \
  || die "cannot connect to the server ($where) or to its '$admin_db' database"
target_exists=$(qdb "$target" <<<"SELECT count(*) FROM pg_database WHERE datname = :'t'")

stamp_utc=$(json_field started_at)
if [[ -z $stamp_utc && $name =~ -([0-9]{8})T([0-9]{2})([0-9]{2})([0-9]{2})Z- ]]; then
  stamp_utc="${BASH_REMATCH[1]} ${BASH_REMATCH[2]}:${BASH_REMATCH[3]}:${BASH_REMATCH[4]}Z"
fi
age=""
if [[ -n $stamp_utc ]] && then_s=$(date -u -d "${stamp_utc/T/ }" +%s 2>/dev/null); then
  secs=$(( $(date -u +%s) - then_s ))
  if (( secs >= 86400 )); then age="$((secs / 86400)) d $(( (secs % 86400) / 3600 )) h ago"
  elif (( secs >= 3600 )); then age="$((secs / 3600)) h $(( (secs % 3600) / 60 )) min ago"
  else age="$((secs / 60)) min ago"; fi
fi
migrations="unknown (no manifest, or made by postgres-backup.sh)"
if [[ $manifest == *'"last_applied"'* ]]; then
  migrations="last applied: $(json_field last_applied)"
  pending=$(printf '%s' "$manifest" | grep -o '"pending": *\[[^]]*\]' | head -n1 | sed 's/.*\[//; s/\]//; s/"//g; s/ //g') || true
  [[ -n $pending ]] && migrations="$migrations; pending then: $pending"
fi
human_size=$(numfmt --to=iec --suffix=B "$size" 2>/dev/null || echo "$size bytes")

if [[ $clean == yes ]]; then
  action="REPLACE the content of database $target (the previous one is kept beside it)"
elif [[ $target_exists == 1 ]]; then
  action="restore into the existing database $target in one transaction (fails, changing nothing, if its objects exist: use -c to replace)"
else
  action="create database $target and restore into it"
fi
cat >&2 <<EOF

  backup     $backup
  taken      ${stamp_utc:-unknown}${age:+ ($age)}
  size       $human_size, $format
  migrations $migrations
  server     $where, PostgreSQL $server_version
  database   $target ($([[ $target_exists == 1 ]] && echo exists || echo "does not exist"))
  action     $action

EOF
if [[ $assume_yes != yes ]]; then
  if [[ -t 0 && -t 2 ]]; then
    read -r -p "Type the database name ($target) to go ahead: " answer
    [[ $answer == "$target" ]] || die "not confirmed; nothing was changed"
  else
    die "no terminal to confirm on: run again with --yes to restore into $target; nothing was changed"
  fi
fi

# ------------------------------------------------------------------ 3. restore
stamp=$(date -u +%Y%m%d%H%M%S)
scratch=""        # a database of ours to drop if we fail
tmp_archive=""    # decompressed archive for pg_restore -j
allow_back=""     # a database whose connections we closed and must reopen
cleanup() {
  local status=$?
  trap - EXIT INT TERM HUP
  if [[ -n $tmp_archive ]]; then rm -f -- "$tmp_archive"; fi
  if [[ -n $age_err ]]; then rm -f -- "$age_err"; fi
  if [[ -n $allow_back ]]; then
    session_options="" pg "$admin_db" -v t="$allow_back" -f - <<<'ALTER DATABASE :"t" ALLOW_CONNECTIONS true;' \
      >/dev/null 2>&1 || say "warning: could not reopen connections to $allow_back: ALTER DATABASE \"$allow_back\" ALLOW_CONNECTIONS true"
  fi
  if [[ -n $scratch ]]; then
    session_options="" pg "$admin_db" -v t="$scratch" -f - <<<'DROP DATABASE IF EXISTS :"t";' >/dev/null 2>&1 \
      || say "warning: could not drop the unfinished database $scratch: DROP DATABASE \"$scratch\""
  fi
  if [[ $status -ne 0 ]]; then
    if [[ $target_exists == 1 ]]; then
      say "FAILED: database $target is unchanged (as it was before this run)"
    else
      say "FAILED: nothing was created"
    fi
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT
trap 'say "terminated"; exit 143' TERM
trap 'exit 129' HUP

# restore_into DB ALL_OR_NOTHING: load the backup into DB (exit status of the loader).
restore_into() {
  local db=$1 single=$2
  if [[ $format == sql ]]; then
    decompress_backup | pg "$db" --single-transaction -f - >/dev/null
  elif [[ $single == yes ]]; then
    decompress_backup | pgr --exit-on-error --single-transaction -d "$db"
  elif [[ $mode == direct && $jobs -gt 1 ]] && make_temp_archive; then
    say "pg_restore -j $jobs"
    pgr --exit-on-error -j "$jobs" -d "$db" "$tmp_archive"
  else
    decompress_backup | pgr --exit-on-error -d "$db"
  fi
}

# A seekable copy of the archive for pg_restore -j, when there is room for it (about 4x the .zst).
make_temp_archive() {
  local need free tdir=$dir
  need=$(json_field uncompressed_size)
  [[ -n $need ]] || need=$(( size * 5 ))
  [[ -w $tdir ]] || tdir=${TMPDIR:-/tmp}
  free=$(df -P -B1 -- "$tdir" | awk 'NR == 2 { print $4 }')
  if (( free < need + need / 20 )); then
    say "not enough room in $tdir for a decompressed copy ($need bytes needed, $free free): one job, streamed"
    return 1
  fi
  tmp_archive=$(mktemp -p "$tdir" ".$name.XXXXXX.partial")
  decompress_backup > "$tmp_archive"
}

t0=$(date +%s)
if [[ $clean != yes ]]; then
  if [[ $target_exists != 1 ]]; then
    qdb "$target" <<<'CREATE DATABASE :"t" TEMPLATE template0;' >/dev/null
    scratch=$target
  fi
  say "restoring into $target in one transaction ..."
  restore_into "$target" yes || die "the restore failed; it ran in one transaction, so $target is as it was"
  scratch=""
  say "restored $name into $target in $(( $(date +%s) - t0 )) s"
  exit 0
fi

# -c: beside and swap. The new database copies the target's owner, encoding and locale.
base=${target:0:33}  # kept name at most 63 bytes, as migtool names it (ASCII names)
new="${base}_restore_${stamp}"
kept="${base}_before_restore_${stamp}"
create_sql='CREATE DATABASE :"n" TEMPLATE template0'
if [[ $target_exists == 1 ]]; then
  read -r owner encoding collate ctype < <(qdb "$target" <<<"SELECT pg_get_userbyid(datdba), pg_encoding_to_char(encoding), datcollate, datctype FROM pg_database WHERE datname = :'t'" | tr '|' ' ')
  create_sql+=' OWNER :"o" ENCODING :'"'"'e'"'"' LC_COLLATE :'"'"'c'"'"' LC_CTYPE :'"'"'y'"'"
fi
pg "$admin_db" -v n="$new" -v o="${owner:-}" -v e="${encoding:-}" -v c="${collate:-}" -v y="${ctype:-}" -f - \
  <<<"$create_sql;" >/dev/null || die "cannot create the database $new beside $target (CREATEDB privilege?)"
scratch=$new
say "restoring into $new (beside $target, which is not touched) ..."
# Many transactions (pg_restore -j): commits need not wait for the disk, the swap's commit below
# flushes everything before we report success.
session_options="-c synchronous_commit=off"
restore_into "$new" no || die "the restore into $new failed"
session_options=""
say "loaded in $(( $(date +%s) - t0 )) s; analyzing ..."
pg "$new" -c "ANALYZE" >/dev/null || die "ANALYZE of $new failed"

if [[ $target_exists != 1 ]]; then
  pg "$admin_db" -v n="$new" -v t="$target" -f - <<<'ALTER DATABASE :"n" RENAME TO :"t";' >/dev/null
  scratch=""
  say "restored $name into the new database $target in $(( $(date +%s) - t0 )) s"
  exit 0
fi

# The swap: close connections to the target (no new ones can come), end the rest, rename both in one
# transaction. A busy target gets a few attempts; any failure reopens it unchanged.
swapped=no
for attempt in 1 2 3 4 5 6 7 8 9 10; do
  allow_back=$target
  if out=$(pg "$admin_db" -v t="$target" -v n="$new" -v k="$kept" -f - 2>&1 <<'SQL'
ALTER DATABASE :"t" ALLOW_CONNECTIONS false;
SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity WHERE datname = :'t' AND pid <> pg_backend_pid();
BEGIN;
ALTER DATABASE :"t" RENAME TO :"k";
ALTER DATABASE :"n" RENAME TO :"t";
COMMIT;
SQL
  ); then
    swapped=yes; scratch=""; allow_back=$kept
    break
  fi
  session_options="" pg "$admin_db" -v t="$target" -f - <<<'ALTER DATABASE :"t" ALLOW_CONNECTIONS true;' >/dev/null 2>&1 \
    && allow_back=""
  [[ $out == *"being accessed by other users"* ]] || die "cannot swap $new in for $target: $(printf '%s' "$out" | tail -n1)"
  say "sessions still open on $target (attempt $attempt); retrying ..."
  sleep 1
done
[[ $swapped == yes ]] || die "cannot swap: sessions on $target keep coming back (stop the app and run again)"
pg "$admin_db" -v k="$kept" -f - <<<'ALTER DATABASE :"k" ALLOW_CONNECTIONS true;' >/dev/null && allow_back=""
say "restored $name into $target in $(( $(date +%s) - t0 )) s"
say "the previous database is kept as $kept; drop it when sure: DROP DATABASE \"$kept\";"
