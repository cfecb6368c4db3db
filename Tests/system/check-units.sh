#!/usr/bin/env bash
# check-units.sh: offline checks of Leadline's systemd units (issue 8).
#
#   Tests/system/check-units.sh                  check every unit in <repo>/systemd/
#   Tests/system/check-units.sh --unit-dir DIR   check the *.service and *.socket files in DIR
#   Tests/system/check-units.sh --self-test      prove the check can fail (see self_test below)
#
# For every *.service and *.socket file:
#   1. `systemd-analyze verify` must print nothing at all. verify exits 0 on unknown
#      keys and unparsable values (it only warns), so any output is a failure, and so
#      is a non-zero exit.
#      verify also fails when ExecStart='s binary is missing, and the daemons are not
#      installed on the machine running the check. So the units are copied, unchanged,
#      into a throw-away root (mktemp -d) as <root>/etc/systemd/system/, next to a copy of
#      this machine's /usr/lib/systemd/system (for sysinit.target, sockets.target, ...),
#      every absolute Exec*= path in them gets a stub executable (#!/bin/sh, exit 0)
#      under <root>, and verify runs with --root=<root> --man=no --generators=no.
#      The unit files are checked byte-for-byte as shipped; only the binaries are fake.
#   2. services only: `systemd-analyze security --offline=true` exposure must be at or
#      below the unit's limit (0.5 for vault and audit, 1.5 for ingest and router),
#      enforced with --threshold (which counts in tenths) and printed from the report.
# One line per unit, then exactly `units: N passed, M failed`; exit 1 on any failure.
# Needs no root. Set SYSTEMD_ANALYZE to use another systemd-analyze binary.
set -euo pipefail

SELF=$(readlink -f -- "${BASH_SOURCE[0]}")
SCRIPT_DIR=$(dirname -- "$SELF")
REPO=$(cd -- "$SCRIPT_DIR/../.." && pwd -P)
SA=${SYSTEMD_ANALYZE:-systemd-analyze}

# Highest acceptable `systemd-analyze security` exposure per service.
declare -A MAX_EXPOSURE=(
  [leadline-vault.service]=0.5
  [leadline-audit.service]=0.5
  [leadline-ingest.service]=1.5
  [leadline-router.service]=1.5
)

die() { echo "check-units: $*" >&2; exit 1; }

usage() {
  sed -n '2,6p' "$SELF" | sed 's/^# \{0,1\}//'
}

need_analyze() {
  if ! command -v "$SA" >/dev/null 2>&1; then
    die "systemd-analyze not found (looked for '$SA'); install systemd (Debian: apt-get install systemd) or set SYSTEMD_ANALYZE"
  fi
}

# find_host_units: print the folder holding this machine's vendor units.
find_host_units() {
  local d
  for d in /usr/lib/systemd/system /lib/systemd/system; do
    if [[ -e "$d/sysinit.target" ]]; then echo "$d"; return 0; fi
  done
  die "no vendor unit folder with sysinit.target (looked in /usr/lib/systemd/system, /lib/systemd/system)"
}

# make_root UNIT_DIR ROOT: build the throw-away root described at the top.
make_root() {
  local unit_dir=$1 root=$2 host_units exe
  host_units=$(find_host_units)
  mkdir -p "$root/usr/lib/systemd/system" "$root/etc/systemd/system"
  cp -R -- "$host_units/." "$root/usr/lib/systemd/system/"
  cp -- "$unit_dir"/*.service "$unit_dir"/*.socket "$root/etc/systemd/system/" 2>/dev/null || true
  # Stub every absolute Exec*= command (strip systemd's -@:+! prefixes).
  while IFS= read -r exe; do
    [[ "$exe" == /* ]] || continue
    mkdir -p "$root$(dirname -- "$exe")"
    printf '#!/bin/sh\nexit 0\n' >"$root$exe"
    chmod 0755 "$root$exe"
  done < <(sed -n 's/^[[:space:]]*Exec[A-Za-z]*=[-@:+!]*\([^[:space:]]*\).*/\1/p' \
             "$root/etc/systemd/system/"* 2>/dev/null | sort -u)
}

run_checks() {
  local unit_dir=$1
  need_analyze
  [[ -d "$unit_dir" ]] || die "no such unit folder: $unit_dir"
  shopt -s nullglob
  local units=("$unit_dir"/*.service "$unit_dir"/*.socket)
  shopt -u nullglob
  ((${#units[@]} > 0)) || die "no *.service or *.socket files in $unit_dir"

  local root passed=0 failed=0
  root=$(mktemp -d "${TMPDIR:-/tmp}/leadline-check-units.XXXXXX")
  # shellcheck disable=SC2064
  trap "rm -rf -- '$root'" EXIT
  make_root "$unit_dir" "$root"

  local path name out rc ok detail score max thr sec_out sec_rc verify_note score_note
  local line owner u
  # 1. verify, run once per unit. Loading a unit also loads the units it names
  #    (a socket loads its service), so a warning can surface while verifying a
  #    neighbour: each output line is charged to the unit whose name or file it
  #    starts with, else to the unit being verified. No line is dropped.
  declare -A VERIFY_OUT=() VERIFY_RC=()
  local names=()
  for path in "${units[@]}"; do names+=("$(basename -- "$path")"); done
  for name in "${names[@]}"; do
    rc=0
    out=$(cd / && "$SA" verify --root="$root" --man=no --generators=no \
            "$root/etc/systemd/system/$name" 2>&1) || rc=$?
    VERIFY_RC[$name]=$rc
    while IFS= read -r line; do
      [[ -n "$line" ]] || continue
      owner=$name
      for u in "${names[@]}"; do
        if [[ "$line" == "$u:"* || "$line" == "$root/etc/systemd/system/$u:"* ||
              "$line" == "$root/etc/systemd/system/$u.d/"* ]]; then
          owner=$u; break
        fi
      done
      # keep each line once per unit
      if [[ $'\n'"${VERIFY_OUT[$owner]:-}" != *$'\n'"$line"$'\n'* ]]; then
        VERIFY_OUT[$owner]+="$line"$'\n'
      fi
    done <<<"$out"
  done

  for path in "${units[@]}"; do
    name=$(basename -- "$path")
    ok=1 detail="" score="-" score_note=""

    if [[ ${VERIFY_RC[$name]} -eq 0 && -z "${VERIFY_OUT[$name]:-}" ]]; then
      verify_note="verify clean"
    else
      ok=0 verify_note="verify FAILED (exit ${VERIFY_RC[$name]})"
      detail+="${VERIFY_OUT[$name]:-(no output)}"$'\n'
    fi

    # 2. security exposure (services only).
    if [[ "$name" == *.service ]]; then
      max=${MAX_EXPOSURE[$name]:-}
      if [[ -z "$max" ]]; then
        ok=0 score_note="exposure ? (no limit set for this unit in check-units.sh)"
      else
        thr=$(awk -v m="$max" 'BEGIN { printf "%d", m * 10 + 0.5 }')
        sec_rc=0
        sec_out=$(cd / && "$SA" security --no-pager --offline=true --root="$root" \
                    --threshold="$thr" "$name" 2>&1) || sec_rc=$?
        score=$(printf '%s\n' "$sec_out" |
                sed -n 's/.*Overall exposure level for [^:]*: \([0-9][0-9]*\.[0-9]\).*/\1/p' | tail -n 1)
        if [[ -z "$score" ]]; then
          ok=0 score_note="exposure ? (no score in the report, exit $sec_rc)"
          detail+="$sec_out"$'\n'
        elif [[ $sec_rc -ne 0 ]] || ! awk -v s="$score" -v m="$max" 'BEGIN { exit !(s <= m) }'; then
          ok=0 score_note="exposure $score > max $max"
          detail+=$(printf '%s\n' "$sec_out" | grep -E '^[^[:space:]]*✗|^✗' || true)$'\n'
        else
          score_note="exposure $score <= max $max"
        fi
      fi
    else
      score_note="exposure - (socket)"
    fi

    if ((ok)); then
      printf '%-34s %-28s %-22s PASS\n' "$name" "$score_note" "$verify_note"
      passed=$((passed + 1))
    else
      printf '%-34s %-28s %-22s FAIL\n' "$name" "$score_note" "$verify_note"
      printf '%s' "$detail" | sed '/^$/d; s/^/    /'
      failed=$((failed + 1))
    fi
  done

  echo "units: $passed passed, $failed failed"
  ((failed == 0))
}

# self_test: the check must pass on the shipped units and fail on broken copies.
self_test() {
  need_analyze
  local src="$REPO/systemd" work good=0 bad=0
  work=$(mktemp -d "${TMPDIR:-/tmp}/leadline-check-units-self.XXXXXX")
  # shellcheck disable=SC2064
  trap "rm -rf -- '$work'" EXIT

  # expect LABEL EXPECTED_EXIT UNIT_THAT_MUST_FAIL|- EXPECTED_LAST_LINE DIR
  expect() {
    local label=$1 want=$2 unit=$3 summary=$4 dir=$5 out rc=0
    out=$("$SELF" --unit-dir "$dir" 2>&1) || rc=$?
    printf '%s\n' "$out" | sed 's/^/    /'
    local okay=1
    [[ $rc -eq $want ]] || okay=0
    [[ "$(printf '%s\n' "$out" | tail -n 1)" == "$summary" ]] || okay=0
    if [[ "$unit" != - ]]; then
      printf '%s\n' "$out" | grep -Eq "^$unit .*FAIL\$" || okay=0
    fi
    if ((okay)); then
      echo "self-test: $label: PASS (exit $rc as expected)"; good=$((good + 1))
    else
      echo "self-test: $label: FAIL (exit $rc; wanted exit $want, last line '$summary', failing unit: $unit)"; bad=$((bad + 1))
    fi
  }

  fresh() { rm -rf -- "${work:?}/${1:?}"; mkdir -p "$work/$1"; cp -- "$src"/*.service "$src"/*.socket "$work/$1/"; }
  local n_units all one_down
  n_units=$(find "$src" -maxdepth 1 -type f \( -name '*.service' -o -name '*.socket' \) | wc -l)
  all="units: $n_units passed, 0 failed"
  one_down="units: $((n_units - 1)) passed, 1 failed"

  # 1. The shipped units pass.
  fresh shipped
  echo "self-test: shipped units (must pass)"
  expect "shipped units pass" 0 - "$all" "$work/shipped"

  # 2. One hardening line removed: the exposure goes over the limit.
  fresh weakened
  grep -q '^ProtectSystem=strict$' "$work/weakened/leadline-vault.service" ||
    die "self-test: leadline-vault.service has no 'ProtectSystem=strict' line to remove"
  sed -i '/^ProtectSystem=strict$/d' "$work/weakened/leadline-vault.service"
  echo "self-test: leadline-vault.service without ProtectSystem=strict (must fail on exposure)"
  expect "missing hardening line fails" 1 leadline-vault.service "$one_down" "$work/weakened"

  # 3. A typo'd key in a service: systemd ignores it with a warning, the score
  #    does not notice (WatchdogSec= is not scored), verify's output fails it.
  fresh typo-service
  sed -i 's/^WatchdogSec=/WatchdogSecs=/' "$work/typo-service/leadline-router.service"
  grep -q '^WatchdogSecs=' "$work/typo-service/leadline-router.service" ||
    die "self-test: could not plant the typo in leadline-router.service"
  echo "self-test: leadline-router.service with WatchdogSecs= (must fail verify)"
  expect "typo'd service key fails" 1 leadline-router.service "$one_down" "$work/typo-service"

  # 4. A typo'd key in a socket (sockets have no score: verify alone must catch it).
  fresh typo-socket
  sed -i 's/^SocketMode=/SocketMod=/' "$work/typo-socket/leadline-ingest.socket"
  grep -q '^SocketMod=' "$work/typo-socket/leadline-ingest.socket" ||
    die "self-test: could not plant the typo in leadline-ingest.socket"
  echo "self-test: leadline-ingest.socket with SocketMod= (must fail verify)"
  expect "typo'd socket key fails" 1 leadline-ingest.socket "$one_down" "$work/typo-socket"

  # 5. A missing systemd-analyze is a loud failure, not a skip.
  local out rc=0
  out=$(SYSTEMD_ANALYZE=/nonexistent/systemd-analyze "$SELF" 2>&1) || rc=$?
  printf '%s\n' "$out" | sed 's/^/    /'
  if [[ $rc -ne 0 ]] && grep -q 'systemd-analyze not found' <<<"$out"; then
    echo "self-test: missing systemd-analyze fails: PASS (exit $rc)"; good=$((good + 1))
  else
    echo "self-test: missing systemd-analyze fails: FAIL (exit $rc)"; bad=$((bad + 1))
  fi

  echo "self-test: $good passed, $bad failed"
  ((bad == 0))
}

case "${1:-}" in
  "")          run_checks "$REPO/systemd" ;;
  --unit-dir)  [[ $# -eq 2 ]] || die "usage: $0 --unit-dir DIR"
               [[ -d "$2" ]] || die "no such unit folder: $2"
               run_checks "$(cd -- "$2" && pwd -P)" ;;
  --self-test) [[ $# -eq 1 ]] || die "usage: $0 --self-test"; self_test ;;
  -h|--help)   usage ;;
  *)           usage >&2; exit 1 ;;
esac
