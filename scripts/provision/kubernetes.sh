#!/usr/bin/env bash
# Builds, from Go modules through the Go module proxy, the Kubernetes programs the cluster test tier
# (and the kind node image build) use, at the versions pinned in versions.json:
#   kubernetes.version  kube-apiserver kube-controller-manager kube-scheduler kubelet kubeadm
#                       kube-proxy kubectl   -> $CACHE/kubernetes-<v>/bin/
#   etcd.version        etcd                 -> $CACHE/etcd-<v>/bin/etcd
#   kwok.version        kwok (+ its stage files) -> $CACHE/kwok-<v>/bin/kwok, $CACHE/kwok-<v>/stages/
# where CACHE is ${MAILKIND_CACHE:-$HOME/.cache/mailkind}, then links them into .cache/bin.
#
#   scripts/provision/kubernetes.sh           build what is missing, or do nothing
#   scripts/provision/kubernetes.sh --force   rebuild all three
#
# Each set is complete when its .complete stamp exists (written after every binary is in place);
# a concurrent reader waits for the stamp. Needs Go and the Go module proxy; about 15 minutes of
# CPU on two cores with a cold Go build cache. Every module is checksum-verified (the upstream
# go.sum, then the checksum database for what it lacks).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

log() { printf 'provision/kubernetes: %s\n' "$*"; }
die() { printf 'provision/kubernetes: %s\n' "$*" >&2; exit 1; }

force=no
case "${1:-}" in
  --force) force=yes ;;
  '') ;;
  -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) die "unknown argument: $1 (try --help)" ;;
esac

pin() { node -p "require('./versions.json')['$1'].version" 2>/dev/null || true; }
K8S=$(pin kubernetes); ETCD=$(pin etcd); KWOK=$(pin kwok)
[ -n "$K8S" ] && [ -n "$ETCD" ] && [ -n "$KWOK" ] \
  || die "versions.json needs kubernetes.version, etcd.version and kwok.version"
# the staging modules (k8s.io/api, client-go, ...) are published as v0.<minor>.<patch>
STAGING=v0.${K8S#v1.}

CACHE=${MAILKIND_CACHE:-$HOME/.cache/mailkind}
KDIR=$CACHE/kubernetes-$K8S
EDIR=$CACHE/etcd-$ETCD
WDIR=$CACHE/kwok-$KWOK
K8S_BINS=(kube-apiserver kube-controller-manager kube-scheduler kubelet kubeadm kube-proxy kubectl)

link_all() {
  mkdir -p .cache/bin
  local b
  for b in "${K8S_BINS[@]}"; do ln -sfn "$KDIR/bin/$b" ".cache/bin/$b"; done
  ln -sfn "$EDIR/bin/etcd" .cache/bin/etcd
  ln -sfn "$WDIR/bin/kwok" .cache/bin/kwok
}

complete() { [ -f "$1/.complete" ] && [ "$(cat "$1/.complete")" = "$2" ]; }
all_complete() {
  complete "$KDIR" "$K8S" && complete "$EDIR" "$ETCD" && complete "$WDIR" "$KWOK"
}

if [ "$force" = no ] && all_complete; then
  link_all
  log "kubernetes $K8S, etcd $ETCD, kwok $KWOK already built in $CACHE (nothing to do)"
  exit 0
fi

command -v go >/dev/null || die "go not found: install Go (https://go.dev/dl/), then run this again"
[ "$(go env GOSUMDB)" != off ] || die "GOSUMDB=off: refusing to build without checksum verification"
# Never let the environment exempt modules from verification; no toolchain download either.
export GONOSUMDB='' GOPRIVATE='' GOINSECURE='' GOTOOLCHAIN=local
# -mod=mod lets go add go.sum entries it verified against the checksum database; a line that is
# present and disagrees is still a hard error.
export GOFLAGS='-mod=mod -buildvcs=false'
# static binaries: the kind node image runs kubelet/kubeadm/kube-proxy on another libc
export CGO_ENABLED=0

mkdir -p "$CACHE"
# one builder at a time per machine (CI and a developer, or two worktrees)
exec 9>"$CACHE/.kubernetes-provision.lock"
if ! flock -n 9; then
  log "another provisioning run holds $CACHE/.kubernetes-provision.lock; waiting for it"
  flock 9
fi

work=$(mktemp -d)
cleanup() {
  chmod -R u+w "$work" 2>/dev/null || true
  rm -rf "$work"
  rm -rf "$KDIR"/.tmp.* "$EDIR"/.tmp.* "$WDIR"/.tmp.* 2>/dev/null || true
}
trap cleanup EXIT

# download MODULE@VERSION (checksum-verified) and print its directory in the module cache
module_dir() {
  local out
  out=$(cd "$work" && go mod download -json "$1@$2" 2>&1) || die "go mod download $1@$2 failed: $out"
  printf '%s' "$out" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p'
}

# wrapper MODULE VERSION LOCALVERSION DIR: a throwaway main module in DIR with MODULE's own go.mod
# (its requirements and directives) and go.sum, which requires MODULE itself. `go install pkg@v`
# refuses modules with replace directives, and these have replaces to folders in their own
# repository (k8s.io/kubernetes: ./staging/src/k8s.io/*; etcd: ../api, ...), which the module zip
# does not hold. Each such replace becomes the same module at LOCALVERSION, its published release.
wrapper() {
  local mod=$1 ver=$2 localver=$3 dir=$4 src
  src=$(module_dir "$mod" "$ver")
  [ -f "$src/go.mod" ] || die "no go.mod in $mod@$ver ($src)"
  mkdir -p "$dir"
  cp "$src/go.mod" "$dir/go.mod"
  if [ -f "$src/go.sum" ]; then cp "$src/go.sum" "$dir/go.sum"; else : >"$dir/go.sum"; fi
  chmod u+w "$dir/go.mod" "$dir/go.sum"
  (
    cd "$dir"
    local edits=(-module "mailkind.invalid/build-$(basename "$mod")" -require "$mod@$ver")
    local m
    # `go mod edit -json` lists replaces; a local one has a New.Path starting with . and no version
    while read -r m; do
      [ -n "$m" ] || continue
      edits+=(-dropreplace "$m" -replace "$m=$m@$localver" -require "$m@$localver")
    done < <(go mod edit -json | node -e '
      const j = JSON.parse(require("fs").readFileSync(0, "utf8"));
      for (const r of j.Replace ?? []) if (r.New.Path.startsWith(".") && !r.New.Version) console.log(r.Old.Path);
    ')
    go mod edit "${edits[@]}"
  )
  printf '%s' "$src"
}

# put FILE at DEST atomically (a reader never sees a half-written binary)
install_atomic() {
  local tmp
  tmp="$(dirname "$2")/.tmp.$(basename "$2").$$"
  cp "$1" "$tmp" && chmod 0755 "$tmp" && mv -f "$tmp" "$2"
}

build_kubernetes() {
  local m=$work/k8s start ld='-s -w' p b pkgs=()
  wrapper k8s.io/kubernetes "$K8S" "$STAGING" "$m" >/dev/null
  local minor=${K8S#v1.}; minor=${minor%%.*}
  # what `--version` prints (a plain module build says v0.0.0-master+$Format:%H$)
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $p.gitVersion=$K8S -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
  done
  for b in "${K8S_BINS[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$b"); done
  log "building kubernetes $K8S (${K8S_BINS[*]}) with $(go version | awk '{print $3}'); about 10 minutes on a cold build cache"
  start=$SECONDS
  mkdir -p "$work/kbin"
  (cd "$m" && go build -trimpath -ldflags "$ld" -o "$work/kbin/" "${pkgs[@]}")
  log "kubernetes built in $((SECONDS - start))s"
  "$work/kbin/kube-apiserver" --version | grep -qx "Kubernetes $K8S" \
    || die "built kube-apiserver reports '$("$work/kbin/kube-apiserver" --version)', not $K8S"
  rm -f "$KDIR/.complete"
  mkdir -p "$KDIR/bin"
  for b in "${K8S_BINS[@]}"; do install_atomic "$work/kbin/$b" "$KDIR/bin/$b"; done
  printf '%s\n' "$K8S" >"$KDIR/.complete"
}

build_etcd() {
  local m=$work/etcd start
  wrapper go.etcd.io/etcd/server/v3 "$ETCD" "$ETCD" "$m" >/dev/null
  log "building etcd $ETCD"
  start=$SECONDS
  (cd "$m" && go build -trimpath -ldflags '-s -w' -o "$work/etcd" go.etcd.io/etcd/server/v3)
  log "etcd built in $((SECONDS - start))s"
  "$work/etcd" --version | grep -q "etcd Version: ${ETCD#v}" \
    || die "built etcd reports '$("$work/etcd" --version | head -1)', not $ETCD"
  rm -f "$EDIR/.complete"
  mkdir -p "$EDIR/bin"
  install_atomic "$work/etcd" "$EDIR/bin/etcd"
  printf '%s\n' "$ETCD" >"$EDIR/.complete"
}

build_kwok() {
  local m=$work/kwok start src
  src=$(wrapper sigs.k8s.io/kwok "$KWOK" "$KWOK" "$m")
  log "building kwok $KWOK"
  start=$SECONDS
  (cd "$m" && go build -trimpath -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK" \
    -o "$work/kwok" sigs.k8s.io/kwok/cmd/kwok)
  log "kwok built in $((SECONDS - start))s"
  rm -f "$WDIR/.complete"
  mkdir -p "$WDIR/bin"
  # kwok refuses to start without Stage objects; keep the module's own (kustomize/stage/)
  [ -d "$src/kustomize/stage" ] || die "no kustomize/stage in sigs.k8s.io/kwok@$KWOK"
  rm -rf "$WDIR/stages"
  cp -r "$src/kustomize/stage" "$WDIR/stages"
  chmod -R u+w "$WDIR/stages"
  install_atomic "$work/kwok" "$WDIR/bin/kwok"
  printf '%s\n' "$KWOK" >"$WDIR/.complete"
}

# kubernetes first: other work waits on it
if [ "$force" = yes ] || ! complete "$KDIR" "$K8S"; then build_kubernetes; fi
if [ "$force" = yes ] || ! complete "$EDIR" "$ETCD"; then build_etcd; fi
if [ "$force" = yes ] || ! complete "$WDIR" "$KWOK"; then build_kwok; fi
link_all
log "ready: kubernetes $K8S in $KDIR/bin, etcd $ETCD in $EDIR/bin, kwok $KWOK in $WDIR/bin (linked into .cache/bin)"
