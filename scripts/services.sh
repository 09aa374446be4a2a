#!/usr/bin/env bash
# Checks that PostgreSQL, MariaDB and Redis answer on 127.0.0.1 and starts any that is
# installed but silent. Arguments pick the services (postgres, mysql, redis; default all).
# A service that is not installed is reported at once, not waited for. Exit 1 when any
# requested service does not answer.
set -u

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() {
  local name=$1 port=$2
  for _ in $(seq 1 30); do
    answers "$port" && { echo "$name answers on 127.0.0.1:$port"; return 0; }
    sleep 1
  done
  echo "$name does not answer on 127.0.0.1:$port" >&2
  return 1
}

start_postgres() {
  local versions
  versions=$(ls /etc/postgresql 2>/dev/null)
  if ! command -v pg_ctlcluster >/dev/null 2>&1 || [ -z "$versions" ]; then
    echo "PostgreSQL is not installed (Debian: apt-get install postgresql)" >&2
    return 1
  fi
  echo "starting PostgreSQL"
  for v in $versions; do pg_ctlcluster --skip-systemctl-redirect "$v" main start || true; done
}

start_mysql() {
  if [ ! -x /usr/sbin/mariadbd ]; then
    echo "MariaDB is not installed (Debian: apt-get install mariadb-server)" >&2
    return 1
  fi
  echo "starting MariaDB"
  mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld 2>/dev/null || true
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql || true
}

start_redis() {
  if ! command -v redis-server >/dev/null 2>&1; then
    echo "Redis is not installed (Debian: apt-get install redis-server)" >&2
    return 1
  fi
  echo "starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no || true
}

status=0
for service in "${@:-postgres mysql redis}"; do
  for s in $service; do
    case $s in
      postgres) name=PostgreSQL port=5432 ;;
      mysql | mariadb) s=mysql name=MariaDB port=3306 ;;
      redis) name=Redis port=6379 ;;
      *) echo "unknown service: $s (postgres, mysql, redis)" >&2; status=1; continue ;;
    esac
    if answers "$port"; then
      echo "$name answers on 127.0.0.1:$port"
      continue
    fi
    if "start_$s"; then wait_for "$name" "$port" || status=1; else status=1; fi
  done
done
exit $status
