#!/usr/bin/env bash
# Checks that PostgreSQL, MariaDB and Redis answer on 127.0.0.1 and starts any that does not.
set -u

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() {
  local name=$1 port=$2
  for _ in $(seq 1 60); do
    answers "$port" && { echo "$name answers on 127.0.0.1:$port"; return 0; }
    sleep 1
  done
  echo "$name does not answer on 127.0.0.1:$port" >&2
  return 1
}

if ! answers 5432; then
  echo "starting PostgreSQL"
  if command -v pg_ctlcluster >/dev/null 2>&1; then
    for v in $(ls /etc/postgresql 2>/dev/null); do pg_ctlcluster --skip-systemctl-redirect "$v" main start || true; done
  fi
fi
if ! answers 3306; then
  echo "starting MariaDB"
  mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld 2>/dev/null || true
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql || true
fi
if ! answers 6379; then
  echo "starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no || true
fi
status=0
wait_for PostgreSQL 5432 || status=1
wait_for MariaDB 3306 || status=1
wait_for Redis 6379 || status=1
exit $status
