#!/usr/bin/env bash
# Regenerates the screen captures in assets/ from the real binary, drawn in a
# 120x36 tmux pane: one per tab, plus the manager scenario and `mpdash watch`.
#   bash assets/capture.sh            (from the project's directory; needs tmux)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
BIN=$PWD/target/release/mpdash
N=0
SOCK=mpdash-assets-$$-0
t() { tmux -L "$SOCK" "$@"; }
trap 't kill-server 2>/dev/null || true' EXIT

# wait_for TEXT: polls the pane until TEXT is on it (60 s at most).
wait_for() {
  for _ in $(seq 600); do
    if t capture-pane -p | grep -qF -- "$1"; then return 0; fi
    sleep 0.1
  done
  echo "capture: gave up waiting for '$1'" >&2
  t capture-pane -p >&2
  return 1
}

start() {
  t kill-server 2>/dev/null || true
  N=$((N + 1)); SOCK=mpdash-assets-$$-$N
  t new-session -d -x 120 -y 36 -c "$PWD" "$*; sleep 600"
}

save() { t capture-pane -p > "assets/$1"; echo "assets/$1"; }

start "$BIN scenarios/pool.toml --workers 2"
wait_for "running"; sleep 2; save live-pool.txt
t send-keys Down k; wait_for "y / n"; t send-keys y
wait_for "finished in"; t send-keys 4; sleep 0.3; save log.txt

start "$BIN scenarios/start_methods.toml"
wait_for "run 1 finished"; t send-keys m
wait_for "run 2 finished"; t send-keys m
wait_for "run 3 finished"; t send-keys 2; sleep 0.3; save compare.txt

start "$BIN scenarios/scaling.toml"
wait_for "running"; t send-keys g
wait_for "scaling │ run 2 finished" || wait_for "run 2 finished"; t send-keys 3; sleep 0.3; save scaling.txt

start "$BIN scenarios/stuck/lock_order.toml"
wait_for "DEADLOCK"; sleep 0.5; save stuck-deadlock.txt

start "$BIN scenarios/stuck/dead_producer.toml"
wait_for "STUCK"; t send-keys w; wait_for "Who waits for whom"; save stuck-waits.txt

start "$BIN scenarios/manager.toml --rate 10"
wait_for "through manager.Value"; save live-manager.txt

start "$BIN watch -- sh -c 'sleep 3 | sleep 4 & python3 -c \"sum(range(4*10**8))\" 2>/dev/null || sleep 3; exit 3'"
wait_for "sleep"; sleep 1.5; save watch.txt
