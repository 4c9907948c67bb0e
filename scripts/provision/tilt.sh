#!/usr/bin/env bash
# Builds the tilt CLI at the version pinned in versions.json (tilt.version), as scripts/provision/tilt.pin says, from its Go module into
# the machine cache (${MAILKIND_CACHE:-~/.cache/mailkind}/tilt-<version>/) and links it as
# .cache/bin/tilt (git-ignored), for the Tiltfile tests and the kind tier's `tilt ci` / `tilt up`.
# Its browser UI is a placeholder page of ours (below): developers keep the official release.
#
#   scripts/provision/tilt.sh           build, or do nothing if .cache/bin/tilt is the pinned version
#   scripts/provision/tilt.sh --force   rebuild
#
# Needs Go >= the version tilt's go.mod names and the Go module proxy. Takes several minutes on two
# cores with a cold Go build cache. Every module is checksum-verified; see tilt.pin for the one
# go.sum line that is verified against the checksum database instead of tilt's go.sum.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
PIN=scripts/provision/tilt.pin
BIN=.cache/bin/tilt
CACHED=${MAILKIND_CACHE:-$HOME/.cache/mailkind}/tilt-$(node -p 'require("./versions.json").tilt.version' 2>/dev/null)/tilt
# in the embedded index.html (below): a tilt built without it cannot run `tilt up` or `tilt ci`
UI_MARK=mailkind-tilt-placeholder-ui

log() { printf 'provision/tilt: %s\n' "$*"; }
die() { printf 'provision/tilt: %s\n' "$*" >&2; exit 1; }

force=no
case "${1:-}" in
  --force) force=yes ;;
  '') ;;
  -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) die "unknown argument: $1 (try --help)" ;;
esac

# the one pin: versions.json tilt.version ("v0.37.6"); tilt.pin says how it is built
version=$(node -p 'require("./versions.json").tilt.version.replace(/^v/, "")' 2>/dev/null || true)
[ -n "$version" ] || die "no tilt.version in versions.json"
# "module version" pairs whose zip hash comes from the checksum database, not tilt's go.sum
overrides=$(awk '$1 == "sumdb-over-gosum" { print $2 " " $3 }' "$PIN")

# `tilt version` prints "v0.37.6, built 2026-..."
if [ "$force" = no ] && [ -x "$CACHED" ] && "$CACHED" version 2>/dev/null | grep -q "^v$version," && grep -qa "$UI_MARK" "$CACHED"; then
  mkdir -p "$(dirname "$BIN")"
  ln -sfn "$CACHED" "$BIN"
  log "tilt $version already built in $CACHED (linked as $BIN; nothing to do)"
  exit 0
fi

command -v go >/dev/null || die "go not found: install Go (https://go.dev/dl/) or put an official tilt $version on PATH"
[ "$(go env GOSUMDB)" != off ] || die "GOSUMDB=off: refusing to build tilt without checksum verification"
# Never let the environment exempt modules from verification; no toolchain download either.
export GONOSUMDB='' GOPRIVATE='' GOINSECURE='' GOTOOLCHAIN=local
# -mod=mod lets go add go.sum entries it verified against the checksum database; a line that is
# present and disagrees is still a hard error.
export GOFLAGS='-mod=mod -buildvcs=false'

work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT

log "downloading github.com/tilt-dev/tilt@v$version (verified against the checksum database)"
# `go install tilt@version` is not possible: tilt's go.mod has replace directives, which go install
# refuses. Building inside the module cache copy fails on the buildx line (see tilt.pin). So: a
# throwaway main module with tilt's exact go.mod (requirements, replaces) and go.sum, which
# requires tilt itself and builds its cmd/tilt.
src=$(cd "$work" && go mod download -json "github.com/tilt-dev/tilt@v$version") \
  || die "go mod download failed: $src"
dir=$(printf '%s' "$src" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')
[ -f "$dir/go.mod" ] && [ -f "$dir/go.sum" ] || die "no go.mod/go.sum in the downloaded module ($dir)"

# tilt serves its web UI from files embedded at build time (pkg/assets/embedded.go embeds the
# `build` folder; internal/cli/up.go targetMode: without build/index.html, `tilt up` and `tilt ci`
# stop with "running in prod mode, but JS/CSS files are not available"). The module zip carries only
# build/robots.txt (tilt's release pipeline builds the UI from web/ with yarn), so the build uses a
# writable copy of the module, through a replace, with a placeholder page of ours: the CLI, `tilt
# ci`, `tilt up` and the API work; the browser shows that page.
cp -r "$dir" "$work/tilt-src"
chmod -R u+w "$work/tilt-src"
cat >"$work/tilt-src/pkg/assets/build/index.html" <<HTML
<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>tilt (no web UI)</title></head>
<body><!-- $UI_MARK -->
<p>This tilt was built from its Go module by mailkind's scripts/provision/tilt.sh, for tests: it has
no web UI. Use the terminal (<code>tilt get uiresources</code>, <code>tilt logs</code>) or install
the official release (<code>npm run doctor -- --install-tools</code>).</p>
</body></html>
HTML

mkdir "$work/m"
cp "$dir/go.mod" "$work/m/go.mod"
chmod u+w "$work/m/go.mod"
cp "$dir/go.sum" "$work/gosum.tilt"
drop=()
while read -r mod ver; do
  [ -n "$mod" ] || continue
  drop+=(-e "$mod $ver h1:")
done <<<"$overrides"
if [ "${#drop[@]}" -gt 0 ]; then
  # only the zip-hash line goes; the module's go.mod hash stays checked against tilt's go.sum
  grep -v -F "${drop[@]}" "$work/gosum.tilt" >"$work/m/go.sum"
else
  cp "$work/gosum.tilt" "$work/m/go.sum"
fi
(
  cd "$work/m"
  go mod edit -module mailkind.invalid/tilt-build -require "github.com/tilt-dev/tilt@v$version" \
    -replace "github.com/tilt-dev/tilt=$work/tilt-src"
  log "building tilt $version with $(go version | awk '{print $3}') (several minutes on a cold build cache)"
  start=$SECONDS
  # -X main.version/date: what `tilt version` prints (goreleaser sets them for official releases)
  go build -trimpath -ldflags "-s -w -X main.version=$version -X main.date=$(date -u +%Y-%m-%d)" \
    -o "$work/tilt" github.com/tilt-dev/tilt/cmd/tilt
  log "built in $((SECONDS - start))s"
)

# Audit the binary's own record of its modules: each must carry the hash tilt's go.sum has,
# except the pinned overrides (verified by the checksum database above).
# A replaced module shows as a hash-less `dep` line followed by its `=>` line, which has the hash
# (tilt itself is replaced by the local copy above: `=> <dir> (devel)`, no hash).
go version -m "$work/tilt" | awk '
  $1 == "dep" && NF == 4 { print $2, $3, $4 }
  $1 == "dep" && NF == 3 { replaced = 1; next }
  $1 == "=>" && $3 == "(devel)" { replaced = 0; print $2, $3, "local-copy"; next }
  $1 == "=>" { if (!replaced) { print "unexpected =>", $0 > "/dev/stderr"; exit 1 }; replaced = 0; print $2, $3, $4 }
  $1 == "dep" && replaced { print "no => after", $0 > "/dev/stderr"; exit 1 }
' >"$work/deps" || die "cannot read the module list of the built binary"
[ -s "$work/deps" ] || die "the built binary has no module information"
bad=0
while read -r mod ver sum; do
  # tilt itself: the checksum-verified module download, copied (plus the placeholder page)
  [ "$mod" = github.com/tilt-dev/tilt ] || [ "$mod" = "$work/tilt-src" ] && continue
  if grep -qxF "$mod $ver $sum" "$work/gosum.tilt"; then continue; fi
  if grep -qxF "$mod $ver" <<<"$overrides"; then
    log "note: $mod $ver has $sum from the checksum database (tilt's go.sum differs; see $PIN)"
    continue
  fi
  printf 'provision/tilt: %s %s %s is not what tilt'"'"'s go.sum records\n' "$mod" "$ver" "$sum" >&2
  bad=1
done <"$work/deps"
[ "$bad" = 0 ] || die "module hashes differ from tilt's go.sum; not installing"
while read -r mod ver; do
  [ -n "$mod" ] || continue
  line=$(awk -v m="$mod" -v v="$ver" '$1 == m && $2 == v' "$work/deps")
  if [ -n "$line" ] && grep -qxF "$line" "$work/gosum.tilt"; then
    log "note: the override for $mod $ver in $PIN is no longer needed (hashes agree)"
  fi
done <<<"$overrides"

got=$("$work/tilt" version)
case "$got" in v"$version",*) ;; *) die "built binary reports '$got', not v$version" ;; esac
grep -qa "$UI_MARK" "$work/tilt" || die "the built binary lacks the placeholder web UI"
mkdir -p "$(dirname "$CACHED")" "$(dirname "$BIN")"
mv -f "$work/tilt" "$CACHED.tmp.$$"
mv -f "$CACHED.tmp.$$" "$CACHED"
ln -sfn "$CACHED" "$ROOT/$BIN"
log "tilt $version ready: $CACHED, linked as $BIN ($(wc -l <"$work/deps") modules checked)"
