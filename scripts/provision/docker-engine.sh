#!/usr/bin/env bash
# Builds a Docker engine for the `docker` test tier from Go modules, at the pins in versions.json
# (dockerEngine.*, kind.version): dockerd and docker-proxy (moby), containerd, its runc shim and ctr,
# runc, the distribution registry, the buildx CLI plugin and kind. Binaries go to the machine cache
#   ${MAILKIND_CACHE:-$HOME/.cache/mailkind}/docker-engine/bin/
# (with a `versions` file and a `.complete` stamp) and are linked into .cache/bin; docker-buildx is
# linked as a CLI plugin into .cache/docker-config/cli-plugins (the test harness points DOCKER_CONFIG there).
#
#   scripts/provision/docker-engine.sh           build what is missing or pinned differently
#   scripts/provision/docker-engine.sh --force   rebuild everything
#
# Needs Go (no toolchain download: GOTOOLCHAIN=local), gcc and Debian's libseccomp-dev (runc's
# seccomp support), and the Go module proxy. About 8 minutes on two cores with a cold Go cache.
# Every module is verified against the checksum database (GOSUMDB must not be off).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
CACHE="${MAILKIND_CACHE:-$HOME/.cache/mailkind}/docker-engine"
BIN="$CACHE/bin"
BINARIES=(dockerd docker-proxy containerd containerd-shim-runc-v2 ctr runc registry docker-buildx kind)

log() { printf 'provision/docker-engine: %s\n' "$*"; }
die() { printf 'provision/docker-engine: %s\n' "$*" >&2; exit 1; }

force=no
case "${1:-}" in
  --force) force=yes ;;
  '') ;;
  -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) die "unknown argument: $1 (try --help)" ;;
esac

pin() {
  node -p "const v = require('./versions.json'); const x = $1; if (typeof x !== 'string' || !x) throw 0; x" 2>/dev/null \
    || die "no $1 in versions.json"
}
moby=$(pin 'v.dockerEngine.moby')
moby_stamp=$(pin 'v.dockerEngine.dockerdVersion')
containerd=$(pin 'v.dockerEngine.containerd')
runc=$(pin 'v.dockerEngine.runc')
buildx=$(pin 'v.dockerEngine.buildx')
distribution=$(pin 'v.dockerEngine.distribution')
kind=$(pin 'v.kind.version')

# One line per component: a changed line rebuilds that component (the `versions` file holds the
# lines of the last complete build).
declare -A want=(
  [moby]="moby github.com/moby/moby/v2@$moby dockerd=$moby_stamp tags=netgo,osusergo,static_build,nri_no_wasm,exclude_graphdriver_btrfs"
  [containerd]="containerd github.com/containerd/containerd/v2@$containerd"
  [runc]="runc github.com/opencontainers/runc@$runc tags=seccomp"
  [registry]="registry github.com/distribution/distribution/v3@$distribution"
  [buildx]="buildx github.com/docker/buildx@$buildx"
  [kind]="kind sigs.k8s.io/kind@$kind"
)
declare -A outputs=(
  [moby]="dockerd docker-proxy" [containerd]="containerd containerd-shim-runc-v2 ctr" [runc]="runc"
  [registry]="registry" [buildx]="docker-buildx" [kind]="kind"
)
ORDER=(runc kind containerd registry buildx moby)

declare -A have=()
if [ -f "$CACHE/versions" ]; then
  while read -r name rest; do [ -n "$name" ] && have[$name]="$name $rest"; done <"$CACHE/versions"
fi

todo=()
for c in "${ORDER[@]}"; do
  ok=yes
  [ "$force" = no ] && [ "${have[$c]:-}" = "${want[$c]}" ] || ok=no
  for b in ${outputs[$c]}; do [ -x "$BIN/$b" ] || ok=no; done
  [ "$ok" = yes ] || todo+=("$c")
done

link() {
  mkdir -p .cache/bin .cache/docker-config/cli-plugins
  for b in "${BINARIES[@]}"; do
    [ "$b" = docker-buildx ] && continue
    ln -sfn "$BIN/$b" ".cache/bin/$b"
  done
  ln -sfn "$BIN/docker-buildx" .cache/docker-config/cli-plugins/docker-buildx
}

if [ "${#todo[@]}" -eq 0 ] && [ -f "$CACHE/.complete" ]; then
  link
  log "docker engine already built in $BIN (nothing to do); linked into .cache/bin"
  exit 0
fi

command -v go >/dev/null || die "go not found: install Go (https://go.dev/dl/)"
[ "$(go env GOSUMDB)" != off ] || die "GOSUMDB=off: refusing to build without checksum verification"
command -v gcc >/dev/null || die "gcc not found (runc needs cgo): apt-get install -y gcc"
[ -f /usr/include/seccomp.h ] || die "libseccomp headers missing (runc's seccomp support): apt-get install -y libseccomp-dev"
# Never let the environment exempt modules from verification; no toolchain download either.
export GONOSUMDB='' GOPRIVATE='' GOINSECURE='' GOTOOLCHAIN=local
# -mod=mod lets go record go.sum lines it verified against the checksum database in the
# throwaway wrapper modules below.
export GOFLAGS='-mod=mod -buildvcs=false'

rm -f "$CACHE/.complete"
mkdir -p "$BIN"
work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT

# wrapper <name> <module@version> <package>...: a throwaway main module that requires the pinned
# module and imports its commands from tools.go, so `go build` resolves that module's own
# requirements (go install cannot build several commands with flags, and some of these modules
# have replace directives that only matter for their own repositories).
wrapper() {
  local name=$1 modver=$2; shift 2
  local dir="$work/$name"
  mkdir -p "$dir"
  (
    cd "$dir"
    go mod init "mailkind.invalid/$name-build" >/dev/null 2>&1
    {
      echo '//go:build tools'
      echo
      echo 'package tools'
      echo
      echo 'import ('
      for p in "$@"; do echo "	_ \"$p\""; done
      echo ')'
    } >tools.go
    go mod edit -require "$modver"
    go mod download "$modver" >/dev/null 2>&1 || true
  ) || die "cannot set up the build module for $modver"
}

# build <name> <out> <package> [go build flags...]: builds to a temp name in the cache, then renames
build() {
  local name=$1 out=$2 pkg=$3; shift 3
  local tmp="$BIN/.$out.tmp.$$"
  (cd "$work/$name" && go build -trimpath "$@" -o "$tmp" "$pkg") \
    || { rm -f "$tmp"; die "building $out ($pkg) failed (see the go output above)"; }
  mv -f "$tmp" "$BIN/$out"
}

for c in "${todo[@]}"; do
  start=$SECONDS
  log "building ${want[$c]}"
  # forget the component's line first: a half-replaced set of binaries must not look current
  unset "have[$c]"
  for k in "${ORDER[@]}"; do [ -n "${have[$k]:-}" ] && echo "${have[$k]}"; done >"$CACHE/versions.tmp"
  mv -f "$CACHE/versions.tmp" "$CACHE/versions"
  case "$c" in
    runc)
      wrapper runc "github.com/opencontainers/runc@$runc" github.com/opencontainers/runc
      CGO_ENABLED=1 build runc runc github.com/opencontainers/runc -tags seccomp \
        -ldflags "-s -w -X main.version=${runc#v}"
      ;;
    kind)
      wrapper kind "sigs.k8s.io/kind@$kind" sigs.k8s.io/kind
      CGO_ENABLED=0 build kind kind sigs.k8s.io/kind -ldflags "-s -w"
      ;;
    containerd)
      cm=github.com/containerd/containerd/v2
      wrapper containerd "$cm@$containerd" $cm/cmd/containerd $cm/cmd/containerd-shim-runc-v2 $cm/cmd/ctr
      vflags="-s -w -X $cm/version.Version=$containerd"
      for b in containerd containerd-shim-runc-v2 ctr; do
        CGO_ENABLED=0 build containerd "$b" "$cm/cmd/$b" -ldflags "$vflags"
      done
      ;;
    registry)
      dm=github.com/distribution/distribution/v3
      wrapper registry "$dm@$distribution" $dm/cmd/registry
      CGO_ENABLED=0 build registry registry $dm/cmd/registry \
        -ldflags "-s -w -X $dm/version.version=$distribution"
      ;;
    buildx)
      bm=github.com/docker/buildx
      wrapper buildx "$bm@$buildx" $bm/cmd/buildx
      CGO_ENABLED=0 build buildx docker-buildx $bm/cmd/buildx \
        -ldflags "-s -w -X $bm/version.Version=$buildx -X $bm/version.Package=$bm"
      ;;
    moby)
      mm=github.com/moby/moby/v2
      wrapper moby "$mm@$moby" $mm/cmd/dockerd $mm/cmd/docker-proxy
      tags='netgo osusergo static_build nri_no_wasm exclude_graphdriver_btrfs'
      # without the Version stamp dockerd reports "library-import"
      vflags="-s -w -X $mm/dockerversion.Version=$moby_stamp -X $mm/dockerversion.GitCommit=$moby"
      CGO_ENABLED=0 build moby dockerd $mm/cmd/dockerd -tags "$tags" -ldflags "$vflags"
      CGO_ENABLED=0 build moby docker-proxy $mm/cmd/docker-proxy -tags "$tags" -ldflags "-s -w"
      ;;
  esac
  log "$c built in $((SECONDS - start))s"
  have[$c]=${want[$c]}
  # record progress so an interrupted run keeps what it finished
  for k in "${ORDER[@]}"; do [ -n "${have[$k]:-}" ] && echo "${have[$k]}"; done >"$CACHE/versions.tmp"
  mv -f "$CACHE/versions.tmp" "$CACHE/versions"
done

for b in "${BINARIES[@]}"; do [ -x "$BIN/$b" ] || die "missing $BIN/$b after the build"; done
"$BIN/dockerd" --version | grep -qF "$moby_stamp" || die "dockerd does not report $moby_stamp: $("$BIN/dockerd" --version)"
for k in "${ORDER[@]}"; do echo "${want[$k]}"; done >"$CACHE/versions.tmp"
mv -f "$CACHE/versions.tmp" "$CACHE/versions"
touch "$CACHE/.complete"
link
log "docker engine ready in $BIN; linked into .cache/bin ($("$BIN/dockerd" --version))"
