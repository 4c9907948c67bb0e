# Shared by the kind tier's provisioning scripts (sourced, not run): make container images
# without a Docker engine, as archives in `docker save`'s format, which `docker load` and
# `ctr images import` both read. Callers set $ARCHIVE_TMP (a scratch folder) and, for
# add_program, $ROOTFS (a Debian rootfs of the release the programs were linked on).

# image_archive REF DIR OUT CONFIG-JSON: a one-layer image of DIR's tree, named REF, with CONFIG
# as its runtime configuration (Env, Entrypoint, Cmd, User, WorkingDir, StopSignal, ...).
image_archive() {
  local ref=$1 dir=$2 out=$3 config=$4 tmp diff cfg
  tmp=$(mktemp -d "$ARCHIVE_TMP/archive.XXXXXX")
  tar --numeric-owner --sort=name -C "$dir" -cf "$tmp/layer.tar" .
  diff=$(sha256sum "$tmp/layer.tar" | cut -d' ' -f1)
  mkdir "$tmp/$diff" && mv "$tmp/layer.tar" "$tmp/$diff/layer.tar"
  node -e '
    const [diff, config] = process.argv.slice(1);
    process.stdout.write(JSON.stringify({
      architecture: "amd64", os: "linux", created: "1970-01-01T00:00:00Z",
      config: JSON.parse(config),
      rootfs: { type: "layers", diff_ids: ["sha256:" + diff] },
      history: [{ created: "1970-01-01T00:00:00Z", created_by: "mailkind scripts/provision (image-archive.sh)" }],
    }));' "$diff" "$config" >"$tmp/config.json"
  cfg=$(sha256sum "$tmp/config.json" | cut -d' ' -f1)
  mv "$tmp/config.json" "$tmp/$cfg.json"
  node -e '
    const [cfg, ref, diff] = process.argv.slice(1);
    process.stdout.write(JSON.stringify([{ Config: cfg + ".json", RepoTags: [ref], Layers: [diff + "/layer.tar"] }]));' \
    "$cfg" "$ref" "$diff" >"$tmp/manifest.json"
  tar -C "$tmp" -cf "$out" manifest.json "$cfg.json" "$diff"
  rm -rf "$tmp"
}

# add_libs DIR FILE: the shared libraries FILE loads, copied into DIR at their paths (from $ROOTFS
# when it has them, else from this machine, which is the same Debian release)
add_libs() {
  local dir=$1 file=$2 lib
  for lib in $(ldd "$file" 2>/dev/null | grep -o '/[^ ]*' || true); do
    [ -e "$dir$lib" ] && continue
    if [ -n "${ROOTFS:-}" ] && [ -e "$ROOTFS$lib" ]; then
      install -D "$(readlink -f "$ROOTFS$lib")" "$dir$lib"
    else
      install -D "$(readlink -f "$lib")" "$dir$lib"
    fi
  done
}

# add_program DIR SRC DEST: a program at DEST inside DIR, with its libraries
add_program() {
  install -D -m 0755 "$2" "$1$3"
  add_libs "$1" "$2"
}

# base_files DIR [USER UID]: the few files any image needs (users, name resolution, CA roots, /tmp)
base_files() {
  local dir=$1 user=${2:-} uid=${3:-}
  mkdir -p "$dir/etc" "$dir/tmp" && chmod 1777 "$dir/tmp"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n' >"$dir/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$dir/etc/group"
  if [ -n "$user" ]; then
    printf '%s:x:%s:%s::/home/%s:/bin/sh\n' "$user" "$uid" "$uid" "$user" >>"$dir/etc/passwd"
    printf '%s:x:%s:\n' "$user" "$uid" >>"$dir/etc/group"
    mkdir -p "$dir/home/$user" && chown "$uid:$uid" "$dir/home/$user"
  fi
  printf 'hosts: files dns\n' >"$dir/etc/nsswitch.conf"
  install -D -m 0644 /etc/ssl/certs/ca-certificates.crt "$dir/etc/ssl/certs/ca-certificates.crt"
}

# add_busybox DIR: Debian's static busybox as /bin/busybox with a link per applet (sh, grep, ...)
add_busybox() {
  local dir=$1 applet
  install -D -m 0755 /bin/busybox "$dir/bin/busybox"
  for applet in $(/bin/busybox --list); do
    [ -e "$dir/bin/$applet" ] || ln -s busybox "$dir/bin/$applet"
  done
}

PATH_ENV='"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"'
