# shellcheck shell=bash
# nspawn-lib.sh: helpers for Tests/system/nspawn-test.sh (sourced, not run).
#
# Boots a minimal Debian bookworm root under systemd-nspawn with systemd as PID 1, the
# way ../shared/notes/systemd-in-container.md describes for these machines (hybrid
# cgroup host: the container gets its own subtree in name=systemd and unified only).
#
# Globals the caller may read: NSP_ROOT (the unpacked root), NSP_RUN (host folder bound
# to the container's /run/leadline), NSP_PID (the nspawn process), NSP_INIT (the
# container's PID 1 as seen from the host). NSP_NAME is the machine name.

NSP_NAME=${NSP_NAME:-leadline-test-$$}
NSP_CGROUP_NAME=${NSP_CGROUP_NAME:-leadline-nspawn-$$}
NSP_ROOT=""
NSP_RUN=""
NSP_TMP=""
NSP_PID=""
NSP_INIT=""
NSP_LOG=""
NSP_LOCK=""
NSP_CGROUPS_MADE=()
NSP_PACKAGES=(systemd-container debootstrap)
NSP_INCLUDE=systemd,dbus,libcurl4,libsqlite3-0,ca-certificates,passwd

nsp_say() { printf '%s\n' "nspawn: $*" >&2; }
nsp_die() { printf '%s\n' "nspawn: $*" >&2; exit 2; }

# nsp_need_packages: install systemd-container and debootstrap when missing (never the
# recommends: libnss-mymachines would edit /etc/nsswitch.conf).
nsp_need_packages() {
  local missing=() p
  for p in "${NSP_PACKAGES[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  ((${#missing[@]} == 0)) && return 0
  nsp_say "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
    apt-get update -qq >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  }
}

# nsp_mirror: print the Debian mirror apt already uses for bookworm (one-line or deb822
# sources), the -security archive excluded. NSP_MIRROR overrides.
nsp_mirror() {
  if [[ -n "${NSP_MIRROR:-}" ]]; then echo "$NSP_MIRROR"; return 0; fi
  local f uri=""
  shopt -s nullglob
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -r "$f" ]] || continue
    uri=$(awk '$1 == "deb" { i = 2; if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
                             if ($(i+1) == "bookworm" && $i !~ /security/) { print $i; exit } }' "$f")
    [[ -n "$uri" ]] && break
  done
  if [[ -z "$uri" ]]; then
    for f in /etc/apt/sources.list.d/*.sources; do
      uri=$(awk 'BEGIN { RS = ""; FS = "\n" }
                 { u = ""; s = 0; t = 0
                   for (k = 1; k <= NF; k++) {
                     if ($k ~ /^URIs:/) { u = $k; sub(/^URIs:[ \t]*/, "", u); sub(/[ \t].*/, "", u) }
                     if ($k ~ /^Suites:/ && $k ~ /[ \t]bookworm([ \t]|$)/) s = 1
                     if ($k ~ /^Types:/ && $k ~ /[ \t]deb([ \t]|$)/) t = 1
                   }
                   if (u != "" && s && t && u !~ /security/) { print u; exit } }' "$f")
      [[ -n "$uri" ]] && break
    done
  fi
  shopt -u nullglob
  [[ -n "$uri" ]] || uri=http://deb.debian.org/debian
  echo "${uri%/}"
}

# nsp_rootfs_tar TAR: build the minimal bookworm root once and keep it as TAR.
nsp_rootfs_tar() {
  local tar=$1 mirror dir
  [[ -s "$tar" ]] && return 0
  mirror=$(nsp_mirror)
  mkdir -p "$(dirname -- "$tar")"
  dir=$(mktemp -d "$(dirname -- "$tar")/debootstrap.XXXXXX")
  nsp_say "debootstrap bookworm from $mirror (once; cached as $tar)"
  if ! debootstrap --variant=minbase --include="$NSP_INCLUDE" bookworm "$dir" "$mirror" \
         >"$dir.log" 2>&1; then
    tail -n 20 "$dir.log" >&2
    rm -rf -- "$dir"
    nsp_die "debootstrap failed (log: $dir.log)"
  fi
  # Leave out what a test root never needs, then pack it atomically (/ is 0755, not mktemp's 0700).
  chmod 0755 "$dir"
  rm -rf -- "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/* \
            "$dir"/usr/share/doc/* "$dir"/usr/share/man/* "$dir"/usr/share/locale/*
  tar -C "$dir" --numeric-owner -cf "$tar.part" . && mv -f -- "$tar.part" "$tar"
  rm -rf -- "$dir" "$dir.log"
}

# nsp_unpack TAR: a fresh copy of the root in a temp folder; sets NSP_TMP, NSP_ROOT, NSP_RUN.
nsp_unpack() {
  local tar=$1
  NSP_TMP=$(mktemp -d "${TMPDIR:-/tmp}/leadline-nspawn.XXXXXX")
  NSP_ROOT=$NSP_TMP/root
  NSP_RUN=$NSP_TMP/run-leadline
  NSP_LOG=$NSP_TMP/nspawn.log
  mkdir -p "$NSP_ROOT" "$NSP_RUN"
  NSP_LOCK=/run/systemd/nspawn/locks/inode-$(stat -c '%d:%i' "$NSP_ROOT")
  tar -C "$NSP_ROOT" --numeric-owner -xf "$tar"
  # The container's / must be 0755 (mktemp -d makes 0700): otherwise no service user, not
  # even messagebus, can reach any file and the boot hangs on dbus.service.
  chmod 0755 "$NSP_ROOT"
  # The test needs no network inside and no getty; keep the boot short and quiet.
  rm -f "$NSP_ROOT/etc/hostname"
  echo "$NSP_NAME" >"$NSP_ROOT/etc/hostname"
  : >"$NSP_ROOT/etc/machine-id"
}

# nsp_cgroups: the container's own subtree in the name=systemd and unified hierarchies
# (only those two), with this shell moved into it. Records what it made for cleanup.
nsp_cgroups() {
  local h d
  for h in systemd unified; do
    [[ -d /sys/fs/cgroup/$h ]] || continue
    d=/sys/fs/cgroup/$h/$NSP_CGROUP_NAME
    if [[ ! -d $d ]]; then
      mkdir "$d"
      NSP_CGROUPS_MADE+=("$d")
    fi
  done
}

# nsp_boot: boot the root in the background; waits for PID 1 and `is-system-running`.
nsp_boot() {
  nsp_cgroups
  (
    # Only the subshell (which becomes nspawn) moves into the new cgroups.
    local h
    for h in systemd unified; do
      [[ -d /sys/fs/cgroup/$h/$NSP_CGROUP_NAME ]] &&
        echo "$BASHPID" >"/sys/fs/cgroup/$h/$NSP_CGROUP_NAME/cgroup.procs"
    done
    exec systemd-nspawn -q -D "$NSP_ROOT" -M "$NSP_NAME" -b --register=no --keep-unit \
      --private-network --link-journal=no --console=read-only \
      --bind="$NSP_RUN:/run/leadline" </dev/null >"$NSP_LOG" 2>&1
  ) &
  NSP_PID=$!
  local i c
  for ((i = 0; i < 300; i++)); do
    kill -0 "$NSP_PID" 2>/dev/null || { tail -n 30 "$NSP_LOG" >&2; nsp_die "systemd-nspawn exited during boot"; }
    for c in $(cat "/proc/$NSP_PID/task/$NSP_PID/children" 2>/dev/null); do
      if [[ "$(cat "/proc/$c/comm" 2>/dev/null)" == systemd ]]; then NSP_INIT=$c; break 2; fi
    done
    sleep 0.1
  done
  [[ -n "$NSP_INIT" ]] || nsp_die "no systemd PID 1 under nspawn $NSP_PID after 30 s"
  # PID 1 creates /run/systemd/system and its private bus socket a moment after it starts;
  # until then systemctl says "offline" or cannot connect.
  local state=""
  for ((i = 0; i < 600; i++)); do
    if [[ -S /proc/$NSP_INIT/root/run/systemd/private && -d /proc/$NSP_INIT/root/run/systemd/system ]]; then
      state=$(nsp_in timeout 120 systemctl is-system-running --wait 2>&1) || true
      [[ "$state" == offline || "$state" == *"Failed to connect to bus"* ]] || break
    fi
    kill -0 "$NSP_PID" 2>/dev/null || break
    sleep 0.1
  done
  nsp_say "container up (nspawn $NSP_PID, init $NSP_INIT): $state"
  [[ "$state" == running || "$state" == degraded ]] ||
    nsp_die "container did not finish booting: '$state'"
  if [[ "$state" == degraded ]]; then
    nsp_say "failed units: $(nsp_in systemctl --failed --no-legend --plain | awk '{print $1}' | tr '\n' ' ')"
  fi
}

# nsp_in CMD...: run CMD inside the container (all namespaces, clean environment).
nsp_in() {
  nsenter -t "$NSP_INIT" -a env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"
}

# nsp_as USER CMD...: run CMD inside the container as USER (with that user's groups).
nsp_as() {
  local user=$1; shift
  local gid
  gid=$(nsp_in id -g "$user") || return 125
  nsp_in setpriv --reuid="$user" --regid="$gid" --init-groups -- \
    env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 HOME=/ USER="$user" "$@"
}

# nsp_cleanup: power the container off (SIGTERM to nspawn = clean shutdown), then remove
# only what this run made: its cgroup folders, empty /run/systemd/nspawn folders, the root.
nsp_cleanup() {
  local i d
  if [[ -n "$NSP_PID" ]] && kill -0 "$NSP_PID" 2>/dev/null; then
    kill -TERM "$NSP_PID" 2>/dev/null || true
    for ((i = 0; i < 300; i++)); do kill -0 "$NSP_PID" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$NSP_PID" 2>/dev/null; then
      # SIGKILL to the container's PID 1 ends every process in its PID namespace.
      nsp_say "nspawn $NSP_PID did not power off in 30 s; killing the container (init $NSP_INIT) and nspawn"
      [[ -n "$NSP_INIT" ]] && kill -KILL "$NSP_INIT" 2>/dev/null || true
      sleep 1
      kill -KILL "$NSP_PID" 2>/dev/null || true
    fi
    wait "$NSP_PID" 2>/dev/null || true
  fi
  # Nothing of the container may outlive this run (its init is not nspawn's to reap when
  # nspawn died first).
  if [[ -n "$NSP_INIT" ]] && kill -0 "$NSP_INIT" 2>/dev/null &&
     [[ "$(cat "/proc/$NSP_INIT/comm" 2>/dev/null)" == systemd ]]; then
    kill -KILL "$NSP_INIT" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do kill -0 "$NSP_INIT" 2>/dev/null || break; sleep 0.1; done
  fi
  NSP_PID="" NSP_INIT=""
  for d in "${NSP_CGROUPS_MADE[@]}"; do
    # Child cgroups the container left behind go first, deepest first.
    find "$d" -mindepth 1 -depth -type d -exec rmdir {} + 2>/dev/null || true
    rmdir "$d" 2>/dev/null || nsp_say "could not remove $d"
  done
  NSP_CGROUPS_MADE=()
  # nspawn's lock on the image folder (left behind only if nspawn was killed).
  [[ -n "$NSP_LOCK" ]] && rm -f -- "$NSP_LOCK"
  for d in /run/systemd/nspawn/unix-export/"$NSP_NAME" /run/systemd/nspawn/propagate/"$NSP_NAME" \
           /run/systemd/nspawn/incoming /run/systemd/nspawn/unix-export \
           /run/systemd/nspawn/propagate /run/systemd/nspawn/locks /run/systemd/nspawn; do
    [[ -d $d ]] && rmdir "$d" 2>/dev/null || true
  done
  if [[ -n "$NSP_TMP" && -d "$NSP_TMP" ]]; then
    mountpoint -q "$NSP_ROOT" 2>/dev/null && umount -l "$NSP_ROOT" 2>/dev/null || true
    rm -rf --one-file-system -- "$NSP_TMP"
  fi
  NSP_TMP=""
}
