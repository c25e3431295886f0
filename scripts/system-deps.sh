#!/usr/bin/env bash
# Test-only system packages: real servers the tests start on free loopback ports
# (redis-server for the shared store, nginx for auth_request, Caddy for forward_auth, postgresql
# for the shared connections registry), and the xmlsec1 binary
# pysaml2's own IdP signs with. The product itself needs no system package. Installs with apt-get when running as root and missing;
# otherwise says what is missing (tests that need it fail under CI=true).
set -euo pipefail
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
# redis-cli joins the test cluster (redis-cli --cluster create); sentinels are redis-server --sentinel
command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
# Caddy's forward_auth in front of /saml/auth (Debian's package, bookworm and later)
command -v caddy >/dev/null 2>&1 || missing+=(caddy)
# headless Chromium for the setup page's screenshot test
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
# SimpleSAMLphp as a live IdP, served by PHP's built-in server (no Apache service is started)
dpkg -s simplesamlphp >/dev/null 2>&1 || missing+=(simplesamlphp)
command -v php >/dev/null 2>&1 || missing+=(php-cli)
dpkg -s php-xml >/dev/null 2>&1 || missing+=(php-xml)
dpkg -s php-mbstring >/dev/null 2>&1 || missing+=(php-mbstring)
# pysaml2's own IdP (tests/integration/test_pysaml2_idp.py) signs and encrypts with the xmlsec1 binary
command -v xmlsec1 >/dev/null 2>&1 || missing+=(xmlsec1)
# PostgreSQL for the shared connections registry (tests/support/postgres.py runs initdb/pg_ctl)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing test servers: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # the packages' own services are not wanted: the tests start their own servers
  (service redis-server stop || true) >/dev/null 2>&1
  (service nginx stop || true) >/dev/null 2>&1
  (service postgresql stop || true) >/dev/null 2>&1
  (service caddy stop || true) >/dev/null 2>&1
else
  echo "warning: missing ${missing[*]} (install them to run every test; as root, make test installs them)" >&2
fi
