#!/usr/bin/env bash
# Entrypoint of migtool's local PostgreSQL image.  It follows the contract of
# the official image's entrypoint for the parts migtool uses:
#   POSTGRES_PASSWORD (or POSTGRES_PASSWORD_FILE), POSTGRES_USER (default
#   postgres), POSTGRES_DB (default $POSTGRES_USER), POSTGRES_INITDB_ARGS,
#   POSTGRES_HOST_AUTH_METHOD (default scram-sha-256), PGDATA, and the scripts
#   in /docker-entrypoint-initdb.d (*.sh, *.sql, *.sql.gz, *.sql.zst) run once
#   on first start.
# Passwords go through files and stdin only, never through argv.
set -Eeuo pipefail

log() { printf '%s [entrypoint] %s\n' "$(date -u +'%Y-%m-%d %H:%M:%S UTC')" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# VAR_FILE=/path sets VAR from that file (docker secrets style).
file_env() {
	local var="$1" file_var="${1}_FILE" default="${2:-}"
	if [ -n "${!var:-}" ] && [ -n "${!file_var:-}" ]; then
		die "both $var and $file_var are set; use one"
	fi
	local value="$default"
	if [ -n "${!var:-}" ]; then
		value="${!var}"
	elif [ -n "${!file_var:-}" ]; then
		value="$(<"${!file_var}")"
	fi
	export "$var"="$value"
	unset "$file_var"
}

prepare_dirs() {
	mkdir -p "$PGDATA" /var/run/postgresql
	chmod 00700 "$PGDATA" || :
	chmod 03775 /var/run/postgresql || :
	if [ "$(id -u)" = 0 ]; then
		find "$PGDATA" \! -user postgres -exec chown postgres:postgres '{}' +
		chown postgres:postgres /var/run/postgresql
	fi
}

check_env() {
	file_env POSTGRES_PASSWORD
	file_env POSTGRES_USER postgres
	file_env POSTGRES_DB "$POSTGRES_USER"
	file_env POSTGRES_INITDB_ARGS
	: "${POSTGRES_HOST_AUTH_METHOD:=scram-sha-256}"
	if [ -z "$POSTGRES_PASSWORD" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != trust ]; then
		die "database is uninitialized and POSTGRES_PASSWORD is not set.
  Set POSTGRES_PASSWORD (or POSTGRES_PASSWORD_FILE) to a non-empty value for the
  superuser, or POSTGRES_HOST_AUTH_METHOD=trust to allow every connection
  without a password (never do that outside a throwaway test)."
	fi
}

init_database() {
	log "initializing database cluster in $PGDATA"
	local pwfile
	pwfile="$(mktemp)"
	printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
	# shellcheck disable=SC2086  # POSTGRES_INITDB_ARGS is a list of flags
	initdb --username="$POSTGRES_USER" --pwfile="$pwfile" --auth=trust \
		--encoding=UTF8 --locale=C.UTF-8 $POSTGRES_INITDB_ARGS -D "$PGDATA" >&2
	rm -f "$pwfile"

	# Same network policy as upstream: everything local (socket, loopback) is
	# trusted, every other TCP client needs a password.
	printf '\nhost all all all %s\n' "$POSTGRES_HOST_AUTH_METHOD" >>"$PGDATA/pg_hba.conf"
	printf "\nlisten_addresses = '*'\n" >>"$PGDATA/postgresql.conf"

	# A temporary server on the socket only, so nothing from outside connects
	# (and no TCP health check passes) before initialisation is done.
	pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p 5432" -w start >&2

	local psql=(psql -v ON_ERROR_STOP=1 --no-password --no-psqlrc -U "$POSTGRES_USER")
	if [ "$POSTGRES_DB" != postgres ]; then
		local exists
		exists="$("${psql[@]}" -d postgres -tA --set db="$POSTGRES_DB" <<-'SQL'
			SELECT 1 FROM pg_database WHERE datname = :'db';
		SQL
		)"
		if [ -z "$exists" ]; then
			"${psql[@]}" -d postgres --set db="$POSTGRES_DB" <<-'SQL'
				CREATE DATABASE :"db";
			SQL
			log "created database $POSTGRES_DB"
		fi
	fi

	local f
	for f in /docker-entrypoint-initdb.d/*; do
		[ -e "$f" ] || continue
		# shellcheck disable=SC1090  # init scripts are the user's
		case "$f" in
		*.sh) log "running $f"; if [ -x "$f" ]; then "$f"; else . "$f"; fi ;;
		*.sql) log "running $f"; "${psql[@]}" -d "$POSTGRES_DB" -f "$f" ;;
		*.sql.gz) log "running $f"; gunzip -c "$f" | "${psql[@]}" -d "$POSTGRES_DB" ;;
		*.sql.zst) log "running $f"; zstd -dc "$f" | "${psql[@]}" -d "$POSTGRES_DB" ;;
		*) log "ignoring $f" ;;
		esac
	done

	pg_ctl -D "$PGDATA" -m fast -w stop >&2
	log "initialization complete; ready for start up"
}

main() {
	# `docker run IMAGE -c foo=bar` means `postgres -c foo=bar`.
	if [ "${1:0:1}" = '-' ]; then
		set -- postgres "$@"
	fi
	if [ "$1" != postgres ]; then
		exec "$@"
	fi

	prepare_dirs
	if [ "$(id -u)" = 0 ]; then
		# Drop root: the server refuses to run as root anyway.
		exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
	fi

	if [ ! -s "$PGDATA/PG_VERSION" ]; then
		check_env
		init_database
	else
		log "PostgreSQL database directory appears to contain a database; skipping initialization"
	fi
	unset POSTGRES_PASSWORD
	exec "$@"
}

main "$@"
