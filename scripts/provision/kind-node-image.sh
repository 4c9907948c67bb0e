#!/usr/bin/env bash
# Builds mailkind's kind node image: a TEST FIXTURE for the kind tier (docs/testing-kind.md), not
# something users run (they keep the kindest/node image pinned in manifests/kind/cluster.yaml).
# Nothing can be pulled where CI runs, so the image is made from Debian packages (debootstrap),
# Go modules and the project's own files under scripts/provision/kind-node/, written from what
# kind v0.32.0 expects of a node (images/base, pkg/build/nodeimage, pkg/cluster/internal/...).
#
# Output: an image archive for `docker load`, cached under
# ${MAILKIND_CACHE:-~/.cache/mailkind}/kind-node/ and keyed by a hash of the pins, the files and
# the input binaries. Prints two lines, `archive=<path>` and `image=<reference>`. Needs no Docker
# engine: the archives are written in `docker save`'s format directly.
#
# Inputs built by other provisioning scripts (run them first):
#   scripts/provision/kubernetes.sh   kubelet, kubeadm, kubectl, kube-* and etcd
#   scripts/provision/docker-engine.sh containerd, its runc shim, ctr, runc
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
files=$here/kind-node
cache=${MAILKIND_CACHE:-$HOME/.cache/mailkind}
work=$cache/kind-node

log() { printf 'kind-node-image: %s\n' "$*" >&2; }
die() { printf 'kind-node-image: %s\n' "$1" >&2; [ -n "${2:-}" ] && printf '  fix: %s\n' "$2" >&2; exit 1; }

pin() { node -p "require(process.argv[1]).kindNode['$1']" "$repo/versions.json"; }
k8s=$(node -p "require(process.argv[1]).kubernetes.version" "$repo/versions.json")
etcd=$(node -p "require(process.argv[1]).etcd.version" "$repo/versions.json")
suite=$(pin debianSuite)
crictl_v=$(pin crictl)
coredns_v=$(pin coredns)
lpp_v=$(pin localPathProvisioner)

k8s_dir=$cache/kubernetes-$k8s
etcd_dir=$cache/etcd-$etcd
engine_dir=$cache/docker-engine
[ -f "$k8s_dir/.complete" ] || die "Kubernetes $k8s binaries are not built ($k8s_dir/.complete missing)" "bash scripts/provision/kubernetes.sh"
[ -x "$etcd_dir/bin/etcd" ] || die "etcd $etcd is not built ($etcd_dir/bin/etcd missing)" "bash scripts/provision/kubernetes.sh"
[ -f "$engine_dir/.complete" ] || die "the Docker engine binaries are not built ($engine_dir/.complete missing)" "bash scripts/provision/docker-engine.sh"

mkdir -p "$work"
exec 9>"$work/.lock"
flock 9

# --- the rootfs: Debian minbase plus what a node runs (systemd, iptables, mount tools, CNI plugins)
packages=systemd,systemd-sysv,dbus,conntrack,iptables,nftables,iproute2,ethtool,util-linux,mount,kmod,libseccomp2,pigz,fuse-overlayfs,e2fsprogs,bash,ca-certificates,curl,jq,procps,socat,ebtables,containernetworking-plugins
rootfs=$work/rootfs-$suite
if [ ! -f "$rootfs/.complete" ]; then
  log "debootstrap $suite (a few minutes)"
  rm -rf "$rootfs.tmp"
  debootstrap --variant=minbase --include="$packages" "$suite" "$rootfs.tmp" http://deb.debian.org/debian >"$work/debootstrap.log" 2>&1 ||
    die "debootstrap failed (log: $work/debootstrap.log)" "apt-get install -y debootstrap; check the Debian mirror is reachable"
  rm -rf "$rootfs.tmp/var/cache/apt/archives/"*.deb "$rootfs.tmp/var/lib/apt/lists/"*
  rm -rf "$rootfs"
  mv "$rootfs.tmp" "$rootfs"
  echo "$packages" >"$rootfs/.complete"
fi

# --- Go programs (one build at a time; static, so their images need no libraries)
go_tool() { # name version package
  local dir=$work/go/$1-$2
  if [ ! -x "$dir/$1" ]; then
    log "go install $3@$2"
    mkdir -p "$dir.tmp"
    CGO_ENABLED=0 GOBIN="$dir.tmp" go install "$3@$2"
    rm -rf "$dir" && mv "$dir.tmp" "$dir"
  fi
  echo "$dir/$1"
}
crictl=$(go_tool crictl "$crictl_v" sigs.k8s.io/cri-tools/cmd/crictl)
coredns=$(go_tool coredns "$coredns_v" github.com/coredns/coredns)
lpp=$(go_tool local-path-provisioner "$lpp_v" github.com/rancher/local-path-provisioner)

# --- the cache key: pins, our files, this script, and the identity of every input binary
inputs=("$k8s_dir"/bin/* "$etcd_dir/bin/etcd" "$engine_dir"/bin/{containerd,containerd-shim-runc-v2,ctr,runc} "$crictl" "$coredns" "$lpp")
key=$({
  cat "$0" "$here/lib/image-archive.sh"
  (cd "$files" && find . -type f | LC_ALL=C sort | xargs sha256sum)
  node -p "JSON.stringify(require(process.argv[1]).kindNode)" "$repo/versions.json"
  cat "$rootfs/.complete"
  stat -L -c '%n %s %Y' "${inputs[@]}"
} | sha256sum | cut -c1-16)
image=mailkind.local/kind-node:$k8s-$key
archive=$work/node-$k8s-$key.tar
if [ -f "$archive" ]; then
  echo "archive=$archive"
  echo "image=$image"
  exit 0
fi

stage=$(mktemp -d "$work/stage.XXXXXX")
trap 'rm -rf "$stage"' EXIT
ARCHIVE_TMP=$stage ROOTFS=$rootfs
# shellcheck source=lib/image-archive.sh
. "$here/lib/image-archive.sh"

images=$stage/node/kind/images
mkdir -p "$images"

# what kubeadm asks for, by its own account (so the tags always match the kubeadm we ship)
mapfile -t wanted < <("$k8s_dir/bin/kubeadm" config images list --kubernetes-version "$k8s" 2>/dev/null)
[ "${#wanted[@]}" -ge 6 ] || die "kubeadm config images list printed nothing useful" "run $k8s_dir/bin/kubeadm config images list --kubernetes-version $k8s"
for ref in "${wanted[@]}"; do
  name=${ref##*/}; name=${name%%:*}
  dir=$stage/img-$name
  base_files "$dir"
  case $name in
    kube-apiserver | kube-controller-manager | kube-scheduler)
      add_program "$dir" "$k8s_dir/bin/$name" "/usr/local/bin/$name"
      config="{\"Env\":[$PATH_ENV],\"Entrypoint\":[\"/usr/local/bin/$name\"]}" ;;
    kube-proxy)
      add_program "$dir" "$k8s_dir/bin/kube-proxy" /usr/local/bin/kube-proxy
      # kube-proxy drives iptables (nf_tables backend, as on the node) and conntrack
      add_program "$dir" "$rootfs/usr/sbin/xtables-nft-multi" /usr/sbin/xtables-nft-multi
      for t in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do ln -s xtables-nft-multi "$dir/usr/sbin/$t"; done
      add_program "$dir" "$rootfs/usr/sbin/conntrack" /usr/sbin/conntrack
      mkdir -p "$dir/usr/lib/x86_64-linux-gnu"
      cp -a "$rootfs/usr/lib/x86_64-linux-gnu/xtables" "$dir/usr/lib/x86_64-linux-gnu/"
      for so in "$dir"/usr/lib/x86_64-linux-gnu/xtables/*.so; do add_libs "$dir" "$so"; done
      config="{\"Env\":[$PATH_ENV],\"Entrypoint\":[\"/usr/local/bin/kube-proxy\"]}" ;;
    etcd)
      add_program "$dir" "$etcd_dir/bin/etcd" /usr/local/bin/etcd
      config="{\"Env\":[$PATH_ENV],\"Entrypoint\":[\"/usr/local/bin/etcd\"]}" ;;
    coredns)
      [ "${ref##*:}" = "$coredns_v" ] || die "kubeadm wants CoreDNS ${ref##*:}, versions.json pins $coredns_v" "set kindNode.coredns in versions.json to ${ref##*:}"
      add_program "$dir" "$coredns" /coredns
      config='{"Entrypoint":["/coredns"]}' ;;
    pause)
      gcc -static -O2 -Wall -o "$stage/pause" "$files/pause.c"
      install -D -m 0755 "$stage/pause" "$dir/pause"
      config='{"Entrypoint":["/pause"]}' ;;
    *) die "kubeadm asks for an image this script does not make: $ref" "teach scripts/provision/kind-node-image.sh to make it" ;;
  esac
  image_archive "$ref" "$dir" "$images/$name.tar" "$config"
  rm -rf "$dir"
done

# the storage provisioner and its helper (referenced by kind/manifests/default-storage.yaml)
dir=$stage/img-lpp
base_files "$dir"
add_program "$dir" "$lpp" /usr/local/bin/local-path-provisioner
image_archive "mailkind.local/local-path-provisioner:$lpp_v" "$dir" "$images/local-path-provisioner.tar" "{\"Env\":[$PATH_ENV],\"Entrypoint\":[\"/usr/local/bin/local-path-provisioner\"]}"
dir=$stage/img-helper
base_files "$dir"
add_busybox "$dir"
image_archive mailkind.local/volume-helper:1 "$dir" "$images/volume-helper.tar" "{\"Env\":[$PATH_ENV],\"Cmd\":[\"/bin/sh\"]}"
rm -rf "$stage"/img-*

# --- the node: the rootfs, the runtime, the Kubernetes node programs and our files
log "assembling the node filesystem"
node_dir=$stage/node
cp -a "$rootfs/." "$node_dir/"
rm -f "$node_dir/.complete"
for b in kubelet kubeadm kubectl; do install -m 0755 "$k8s_dir/bin/$b" "$node_dir/usr/bin/$b"; done
for b in containerd containerd-shim-runc-v2 ctr; do install -m 0755 "$engine_dir/bin/$b" "$node_dir/usr/local/bin/$b"; done
install -m 0755 "$engine_dir/bin/runc" "$node_dir/usr/local/sbin/runc"
install -m 0755 "$crictl" "$node_dir/usr/local/bin/crictl"
mkdir -p "$node_dir/opt/cni"
ln -sfn /usr/lib/cni "$node_dir/opt/cni/bin"
install -m 0755 "$files/entrypoint" "$node_dir/usr/local/bin/entrypoint"
install -D -m 0755 "$files/bin/import-images" "$node_dir/kind/bin/import-images"
cp -r "$files/etc/." "$node_dir/etc/"
cp -r "$files/kind/." "$node_dir/kind/"
pause_ref=$(printf '%s\n' "${wanted[@]}" | grep '/pause:')
sed -i "s|@PAUSE_IMAGE@|$pause_ref|" "$node_dir/kind/manifests/default-cni.yaml"
echo "$k8s" >"$node_dir/kind/version"
# iptables through nf_tables, like the engine's host rules
chroot "$node_dir" update-alternatives --set iptables /usr/sbin/iptables-nft >/dev/null
chroot "$node_dir" update-alternatives --set ip6tables /usr/sbin/ip6tables-nft >/dev/null
# enable our units; mask what has no place in a container
for u in containerd kubelet; do
  ln -sf "/etc/systemd/system/$u.service" "$node_dir/etc/systemd/system/multi-user.target.wants/$u.service"
done
mkdir -p "$node_dir/etc/systemd/system/containerd.service.wants"
ln -sf /etc/systemd/system/mailkind-images.service "$node_dir/etc/systemd/system/containerd.service.wants/mailkind-images.service"
for u in getty@tty1.service console-getty.service systemd-udevd.service systemd-udevd-control.socket systemd-udevd-kernel.socket \
  systemd-modules-load.service apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer e2scrub_reap.service; do
  ln -sf /dev/null "$node_dir/etc/systemd/system/$u"
done
: >"$node_dir/etc/machine-id"

log "writing the image archive"
image_archive "$image" "$node_dir" "$archive.tmp" \
  "{\"Env\":[$PATH_ENV,\"container=docker\"],\"Entrypoint\":[\"/usr/local/bin/entrypoint\",\"/sbin/init\"],\"StopSignal\":\"SIGRTMIN+3\"}"
mv "$archive.tmp" "$archive"
# older archives of this image are superseded
find "$work" -maxdepth 1 -name 'node-*.tar' ! -name "$(basename "$archive")" -delete
echo "archive=$archive"
echo "image=$image"
