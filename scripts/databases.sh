# Start real PostgreSQL / MariaDB servers on loopback and make a fresh database for a test
# run (sourced by scripts/test-all). Each function prints the database URL on stdout.

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

FS_DB_USER=ferrostack
FS_DB_PASS=ferrostack-test

postgres_url() {  # name
  ensure_packages postgresql postgresql-client >&2
  local ver
  ver=$(pg_lsclusters -h 2>/dev/null | awk 'NR==1{print $1}')
  if [ -z "$ver" ]; then
    ver=$(ls /usr/lib/postgresql | sort -n | tail -1)
    as_root pg_createcluster "$ver" main >&2
  fi
  if ! pg_lsclusters -h | awk '{print $4}' | grep -q online; then
    as_root pg_ctlcluster "$ver" main start >&2
  fi
  local i
  for i in $(seq 1 60); do
    as_root runuser -u postgres -- pg_isready -q -h 127.0.0.1 && break
    sleep 0.5
  done
  as_root runuser -u postgres -- psql -q -v ON_ERROR_STOP=1 >&2 <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$FS_DB_USER') THEN
    CREATE ROLE $FS_DB_USER LOGIN PASSWORD '$FS_DB_PASS';
  END IF;
END \$\$;
DROP DATABASE IF EXISTS $1;
CREATE DATABASE $1 OWNER $FS_DB_USER;
SQL
  echo "postgresql://$FS_DB_USER:$FS_DB_PASS@127.0.0.1:5432/$1"
}

mariadb_url() {  # name
  ensure_packages mariadb-server mariadb-client >&2
  if ! as_root mysqladmin ping >/dev/null 2>&1; then
    as_root service mariadb start >&2 2>&1 || as_root service mysql start >&2 2>&1 || {
      as_root mkdir -p /run/mysqld && as_root chown mysql:mysql /run/mysqld
      (as_root mysqld_safe --user=mysql >/dev/null 2>&1 &)
    }
    local i
    for i in $(seq 1 120); do
      as_root mysqladmin ping >/dev/null 2>&1 && break
      sleep 0.5
    done
  fi
  as_root mysql -u root >&2 <<SQL
DROP DATABASE IF EXISTS $1;
CREATE DATABASE $1 CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
CREATE USER IF NOT EXISTS '$FS_DB_USER'@'127.0.0.1' IDENTIFIED BY '$FS_DB_PASS';
CREATE USER IF NOT EXISTS '$FS_DB_USER'@'localhost' IDENTIFIED BY '$FS_DB_PASS';
GRANT ALL PRIVILEGES ON $1.* TO '$FS_DB_USER'@'127.0.0.1';
GRANT ALL PRIVILEGES ON $1.* TO '$FS_DB_USER'@'localhost';
FLUSH PRIVILEGES;
SQL
  echo "mysql+pymysql://$FS_DB_USER:$FS_DB_PASS@127.0.0.1:3306/$1"
}
