#!/bin/bash
# Runs inside the container (as root, host network) while build.sh builds
# localhost/berth-test/postgres:15-bookworm from the shared bookworm minbase root.
# The same steps as the official postgres:15-bookworm Dockerfile, with Debian's own
# postgresql-15 in place of the PGDG packages (the only registry here is Debian's).
set -euxo pipefail
: "${PG_MAJOR:?}"
export DEBIAN_FRONTEND=noninteractive

# Fixed ids first, so the packages' postinst scripts find the user already there:
# postgres is uid/gid 999 in the official image, and manifests rely on it.
groupadd -r postgres --gid=999
useradd -r -g postgres --uid=999 --home-dir=/var/lib/postgresql --shell=/bin/bash postgres
install -d -o postgres -g postgres -m 1777 /var/lib/postgresql

# Locales stay out of the slim root (dpkg path-exclude); postgres wants them, as in
# the official image, which builds en_US.UTF-8 and sets LANG=en_US.utf8.
sed -i '/\/usr\/share\/locale/d' /etc/dpkg/dpkg.cfg.d/99mmdebstrap

apt-get update
# libnss-wrapper: lets initdb run as a uid with no /etc/passwd entry (see the
# entrypoint); less is psql's pager; xz/zstd unpack compressed init scripts.
apt-get install -y --no-install-recommends locales libnss-wrapper less xz-utils zstd
echo 'en_US.UTF-8 UTF-8' >>/etc/locale.gen
locale-gen
locale -a | grep -qx 'en_US.utf8'

# No "main" cluster at install time: the entrypoint runs initdb into $PGDATA.
apt-get install -y --no-install-recommends postgresql-common
sed -ri 's/#(create_main_cluster) .*$/\1 = false/' /etc/postgresql-common/createcluster.conf
apt-get install -y --no-install-recommends "postgresql-$PG_MAJOR"
rm -rf /var/lib/apt/lists/*
test ! -e "/var/lib/postgresql/$PG_MAJOR/main"

# initdb copies postgresql.conf from this sample: listen on every interface by
# default (diverted, so a package upgrade keeps the change).
dpkg-divert --add --rename --divert /usr/share/postgresql/postgresql.conf.sample.dpkg \
  "/usr/share/postgresql/$PG_MAJOR/postgresql.conf.sample"
cp /usr/share/postgresql/postgresql.conf.sample.dpkg /usr/share/postgresql/postgresql.conf.sample
ln -s ../postgresql.conf.sample "/usr/share/postgresql/$PG_MAJOR/"
sed -ri "s!^#?(listen_addresses)\s*=\s*\S+.*!\1 = '*'!" /usr/share/postgresql/postgresql.conf.sample
grep -qF "listen_addresses = '*'" /usr/share/postgresql/postgresql.conf.sample

install -d -o postgres -g postgres -m 3777 /var/run/postgresql
# 1777 here; the entrypoint makes it 0700 at start (so any --user can initdb into it).
install -d -o postgres -g postgres -m 1777 /var/lib/postgresql/data
mkdir -p /docker-entrypoint-initdb.d

"/usr/lib/postgresql/$PG_MAJOR/bin/postgres" --version
test "$(id -u postgres):$(id -g postgres)" = 999:999
