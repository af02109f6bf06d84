#!/usr/bin/env bash
# Back up a PostgreSQL database without Python: the same names, checksum file and manifest as
# `migtool backup`, so `migtool backups list/verify/prune` and `sha256sum -c` work on the result.
set -euo pipefail
umask 077

usage() {
  cat <<'EOF'
Usage: postgres-backup.sh [options]

Dump a database, compress it while streaming, and write it atomically as
  BACKUP_DIR/<db>-<UTC yyyymmddThhmmssZ>-<reason>.<dump.zst|dump.gz|sql.zst|sql.gz>
with <name>.sha256 (check with `sha256sum -c`) and <name>.json (manifest) beside it.
An interrupted or failed dump leaves no file behind. With age recipients the compressed stream is
encrypted before it reaches the disk (name + .age; checksum and manifest cover the encrypted file):
restore it with postgres-restore.sh --identity KEYFILE (or MIGTOOL_AGE_IDENTITY).

Options:
  --reason TEXT          why (goes into the name; default: manual)
  --format custom|sql    pg_dump format (default: custom, restore with pg_restore -j)
  --compression zstd|gzip  (default: zstd; gzip uses pigz when installed)
  --dir DIR              backup folder (default: $BACKUP_DIR or ./backups)
  --compose-file FILE    compose file (default: $COMPOSE_FILE or deploy/docker-compose.yml)
  --service NAME         postgres service name (default: postgres)
  --recipient AGE1...    encrypt for this age public key (repeatable; default: $MIGTOOL_AGE_RECIPIENTS,
                         comma-separated, as migtool reads it)
  -h, --help             this help

Where the database is:
  DATABASE_URL set       postgresql://USER:PASSWORD@HOST:PORT/DB?sslmode=...
                         parsed into PG* variables: the password never appears in a command line.
  otherwise              docker compose -f FILE exec -T postgres pg_dump -U "$DB_USER" -d "$DB_NAME"
                         (DB_USER/DB_NAME default to the container's POSTGRES_USER/POSTGRES_DB)

Exit status: 0 ok, 1 dump or write failed, 2 bad usage.
EOF
}

die() { echo "postgres-backup: error: $1" >&2; exit "${2:-1}"; }

reason=manual
format=custom
compression=zstd
dir=${BACKUP_DIR:-backups}
compose_file=${COMPOSE_FILE:-deploy/docker-compose.yml}
service=postgres
recipients=()
IFS=', ' read -r -a recipients <<<"${MIGTOOL_AGE_RECIPIENTS:-}"
given_recipients=no

while [[ $# -gt 0 ]]; do
  case $1 in
    --reason) [[ $# -ge 2 ]] || die "--reason needs a value" 2; reason=$2; shift 2 ;;
    --format) [[ $# -ge 2 ]] || die "--format needs a value" 2; format=$2; shift 2 ;;
    --compression) [[ $# -ge 2 ]] || die "--compression needs a value" 2; compression=$2; shift 2 ;;
    --dir) [[ $# -ge 2 ]] || die "--dir needs a value" 2; dir=$2; shift 2 ;;
    --compose-file) [[ $# -ge 2 ]] || die "--compose-file needs a value" 2; compose_file=$2; shift 2 ;;
    --service) [[ $# -ge 2 ]] || die "--service needs a value" 2; service=$2; shift 2 ;;
    --recipient)
      [[ $# -ge 2 ]] || die "--recipient needs a value" 2
      [[ $given_recipients == yes ]] || recipients=()  # flags replace the environment's list
      given_recipients=yes; recipients+=("$2"); shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" 2 ;;
  esac
done

case $format in custom) ext=dump ;; sql) ext=sql ;; *) die "--format must be custom or sql" 2 ;; esac
case $compression in
  zstd) command -v zstd >/dev/null || die "zstd is not installed (apt-get install zstd), or use --compression gzip"
        ext=$ext.zst; compress=(zstd -q -T0 -1 -c) ;;  # level 1, as migtool: half the CPU of -3
  gzip) ext=$ext.gz
        if command -v pigz >/dev/null; then compress=(pigz -c -6); else compress=(gzip -c -6); fi ;;
  *) die "--compression must be zstd or gzip" 2 ;;
esac
encrypt=()
recipients_json=""
if [[ ${#recipients[@]} -gt 0 ]]; then
  command -v age >/dev/null || die "age is not installed (apt-get install age), needed to encrypt for the recipients"
  encrypt=(age --encrypt)
  for r in "${recipients[@]}"; do
    [[ $r =~ ^age1[02-9ac-hj-np-z]{58}$ ]] || die "not an age recipient: '$r' (a public key: age1...)" 2
    encrypt+=(-r "$r")
    recipients_json+="${recipients_json:+, }\"$r\""
  done
  ext=$ext.age
fi
encryption_line=""  # the manifest records who can decrypt (public keys only)
[[ -n $recipients_json ]] && encryption_line=$'\n  "encryption": {"tool": "age", "recipients": ['"$recipients_json"']},'

dump_opts=(--no-password)
[[ $format == custom ]] && dump_opts+=(--format=custom --compress=0) || dump_opts+=(--format=plain)

urldecode() { local s=${1//+/%2B}; printf '%b' "${s//%/\\x}"; }

# DATABASE_URL -> PG* variables (exported: libpq reads them; nothing secret goes into argv).
parse_database_url() {
  local url=$1 rest query="" path="" userinfo="" hostport user pass host port
  [[ $url =~ ^postgres(ql)?:// ]] || die "DATABASE_URL must start with postgresql://" 2
  rest=${url#*://}
  if [[ $rest == *\?* ]]; then query=${rest#*\?}; rest=${rest%%\?*}; fi
  if [[ $rest == */* ]]; then path=${rest#*/}; rest=${rest%%/*}; fi
  hostport=$rest
  if [[ $rest == *@* ]]; then userinfo=${rest%@*}; hostport=${rest##*@}; fi
  if [[ -n $userinfo ]]; then
    user=${userinfo%%:*}
    export PGUSER; PGUSER=$(urldecode "$user")
    if [[ $userinfo == *:* ]]; then
      pass=${userinfo#*:}
      export PGPASSWORD; PGPASSWORD=$(urldecode "$pass")
    fi
  fi
  if [[ $hostport == \[*\]* ]]; then            # [::1]:5432
    host=${hostport%%]*}; host=${host#[}; port=${hostport#*]}; port=${port#:}
  else
    host=${hostport%%:*}; port=""; [[ $hostport == *:* ]] && port=${hostport#*:}
  fi
  if [[ -n $host ]]; then export PGHOST; PGHOST=$(urldecode "$host"); fi
  if [[ -n $port ]]; then export PGPORT=$port; fi
  if [[ -n $path ]]; then export PGDATABASE; PGDATABASE=$(urldecode "$path"); fi
  local pair key value
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
      options) export PGOPTIONS=$value ;;
      password) export PGPASSWORD=$value ;;
      user) export PGUSER=$value ;;
      host) export PGHOST=$value ;;
      port) export PGPORT=$value ;;
      dbname) export PGDATABASE=$value ;;
      schema) ;;  # Prisma's own parameter, not libpq's
      *) die "DATABASE_URL parameter '$key' is not supported" 2 ;;
    esac
  done
}

if [[ -n ${DATABASE_URL:-} ]]; then
  command -v pg_dump >/dev/null || die "pg_dump is not installed (apt-get install postgresql-client)"
  parse_database_url "$DATABASE_URL"
  unset DATABASE_URL
  mode=direct
  db_name=${PGDATABASE:-${PGUSER:-postgres}}
  dump_cmd=(pg_dump "${dump_opts[@]}")
  version_cmd=(pg_dump --version)
else
  command -v docker >/dev/null || die "docker is not installed and DATABASE_URL is not set"
  [[ -f $compose_file ]] || die "compose file not found: $compose_file (use --compose-file or DATABASE_URL)" 2
  mode=compose
  if [[ -z ${DB_USER:-} || -z ${DB_NAME:-} ]]; then
    # Unset here: ask the container for the credentials it was started with (as the official image).
    creds=$(docker compose -f "$compose_file" exec -T "$service" \
      sh -c 'printf "%s\n%s\n" "${POSTGRES_USER:-postgres}" "${POSTGRES_DB:-${POSTGRES_USER:-postgres}}"') \
      || die "cannot reach the $service service (is it running? docker compose -f $compose_file up -d $service)"
    container_user=$(printf '%s\n' "$creds" | sed -n 1p)
    container_db=$(printf '%s\n' "$creds" | sed -n 2p)
  fi
  db_user=${DB_USER:-${container_user:-postgres}}
  db_name=${DB_NAME:-${container_db:-$db_user}}
  dump_cmd=(docker compose -f "$compose_file" exec -T "$service" pg_dump -U "$db_user" -d "$db_name" "${dump_opts[@]}")
  version_cmd=(docker compose -f "$compose_file" exec -T "$service" pg_dump --version)
fi

slug=$(printf '%s' "$reason" | tr '[:upper:]' '[:lower:]' | tr -c 'a-z0-9' '-' | tr -s '-')
slug=${slug#-}; slug=${slug:0:40}; slug=${slug%-}; slug=${slug#-}
[[ -n $slug ]] || slug=manual
safe_db=$(printf '%s' "$db_name" | tr -c 'A-Za-z0-9_.-' '_' | tr -s '_')
safe_db=${safe_db##[.-]}; [[ -n $safe_db ]] || safe_db=db

json_str() {
  local s=$1
  s=${s//\\/\\\\}; s=${s//\"/\\\"}; s=${s//$'\n'/\\n}; s=${s//$'\t'/\\t}; s=${s//$'\r'/\\r}
  s=$(printf '%s' "$s" | tr -d '\000-\037')
  printf '"%s"' "$s"
}

mkdir -p "$dir"
tmp="" ; tmp_sum="" ; tmp_manifest="" ; published="" ; job=""
final_sides=()
cleanup() {
  local status=$?
  if [[ -n $job ]]; then kill -TERM -- "-$job" 2>/dev/null || true; fi
  if [[ -z $published ]]; then
    rm -f -- ${tmp:+"$tmp"} ${tmp_sum:+"$tmp_sum"} ${tmp_manifest:+"$tmp_manifest"} "${final_sides[@]}"
  fi
  exit "$status"
}
on_signal() {
  # The dump runs in its own process group (set -m below): end all of it, not only the subshell.
  if [[ -n $job ]]; then kill -TERM -- "-$job" 2>/dev/null || true; wait "$job" 2>/dev/null || true; job=""; fi
  echo "postgres-backup: interrupted; no backup was written" >&2
  exit "$1"
}
trap cleanup EXIT
trap 'on_signal 130' INT
trap 'on_signal 143' TERM
trap 'on_signal 129' HUP

pg_dump_version=$("${version_cmd[@]}") || die "cannot run pg_dump"
started=$(date -u +%Y-%m-%dT%H:%M:%S.%6NZ)
stamp=$(date -u +%Y%m%dT%H%M%SZ)

# Claim a name: the temp file is created with noclobber, and a finished backup is never replaced.
name=""
for attempt in $(seq 1 99); do
  candidate="$safe_db-$stamp-$slug"
  [[ $attempt -gt 1 ]] && candidate="$candidate-$attempt"
  candidate="$candidate.$ext"
  if [[ -e $dir/$candidate || -e $dir/$candidate.json || -e $dir/$candidate.sha256 ]]; then continue; fi
  if ( set -o noclobber; : > "$dir/.$candidate.partial" ) 2>/dev/null; then
    name=$candidate; tmp="$dir/.$name.partial"; break
  fi
done
[[ -n $name ]] || die "too many backups named like $safe_db-$stamp-$slug in one second"

echo "postgres-backup: dumping $db_name ($format, $compression) into $dir/$name" >&2
t0=$(date +%s.%N)
set -m   # own process group, so a signal to this script can stop pg_dump and the compressor too
if [[ ${#encrypt[@]} -gt 0 ]]; then
  ( "${dump_cmd[@]}" < /dev/null | "${compress[@]}" | "${encrypt[@]}" > "$tmp" ) &
else
  ( "${dump_cmd[@]}" < /dev/null | "${compress[@]}" > "$tmp" ) &
fi
job=$!
set +m
wait "$job" || die "the dump failed (exit $?); no backup was written"
job=""
sync -- "$tmp"
finished=$(date -u +%Y-%m-%dT%H:%M:%S.%6NZ)
t1=$(date +%s.%N)

size=$(stat -c %s -- "$tmp")
sum=$(sha256sum -- "$tmp" | cut -d' ' -f1)
tmp_sum="$dir/.$name.sha256.partial"
tmp_manifest="$dir/.$name.json.partial"
printf '%s  %s\n' "$sum" "$name" > "$tmp_sum"
cat > "$tmp_manifest" <<EOF
{
  "manifest_version": 1,
  "name": $(json_str "$name"),
  "database": $(json_str "$db_name"),
  "pg_dump_version": $(json_str "$pg_dump_version"),
  "format": "$format",
  "compression": "$compression",
  "size": $size,
  "sha256": "$sum",
  "started_at": "$started",
  "finished_at": "$finished",
  "reason": $(json_str "$reason"),
  "row_counts": "none",
  "tables": [],
  "migrations": null,
  "target": "$mode",$encryption_line
  "created_by": "postgres-backup.sh"
}
EOF
sync -- "$tmp_sum" "$tmp_manifest"
final_sides=("$dir/$name.sha256" "$dir/$name.json")
mv -f -- "$tmp_sum" "$dir/$name.sha256"; tmp_sum=""
mv -f -- "$tmp_manifest" "$dir/$name.json"; tmp_manifest=""
ln -- "$tmp" "$dir/$name"   # fails rather than replace an existing file
rm -f -- "$tmp"; published=yes
sync -- "$dir"
duration=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
echo "backup written: $dir/$name ($size bytes, sha256 $sum, $duration s)"
