# Shared by start.sh and stop.sh (sourced). Needs a log function.

# alive PIDFILE COMM: pid file names a live (non-zombie) process called COMM.
# Zombies matter: when PID 1 does not reap promptly (containers, sandboxes),
# `kill -0` succeeds on a dead daemon.
alive() {
  local pid
  pid=$(cat "$1" 2>/dev/null) || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [ -r "/proc/$pid/status" ] || return 1
  grep -q '^State:[[:space:]]*Z' "/proc/$pid/status" 2>/dev/null && return 1
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ]
}
# stop_pidfile PIDFILE COMM: TERM, wait up to 30 s, then KILL. Only that pid.
stop_pidfile() {
  local f=$1 comm=$2 pid i
  if alive "$f" "$comm"; then
    pid=$(cat "$f")
    log "stopping $comm (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 300); do alive "$f" "$comm" || break; sleep 0.1; done
    if alive "$f" "$comm"; then log "$comm did not stop, SIGKILL"; kill -KILL "$pid" 2>/dev/null || true; sleep 0.5; fi
  fi
  rm -f "$f"
}
