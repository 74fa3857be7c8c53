#!/usr/bin/env bash
# A throwaway SLURM cluster and S3 store on this machine, for the cluster tests (test/e2e/cluster.test.ts).
#
#   eval "$(scripts/cluster.sh up)"   start everything and export what the tests need
#   scripts/cluster.sh env            print those export lines again (fails when the cluster is not up)
#   scripts/cluster.sh down           stop everything `up` started; safe to call twice or when nothing is up
#   scripts/cluster.sh kill-node N    a node dies: its slurmd and every process of its jobs (all that runs in the
#                                     node's own mount namespace) are killed (-9)
#                                     and slurmctld is told it is DOWN (as it would find after SlurmdTimeout)
#   scripts/cluster.sh revive-node N  start node N's slurmd again and return it to service
#
# `up` starts, all on 127.0.0.1:
#   - munged, as the munge user, with its own key, socket, pid, seed and log files (slurm.conf points at the
#     socket with AuthInfo), so it does not touch a system munged on /run/munge;
#   - slurmctld, and two slurmd "nodes" n1 and n2 of 1 CPU each (`slurmd -N n1` / `-N n2`, one port each),
#     in one partition `debug`, each offering one pretend GPU (gres gpu:1 backed by /dev/null); no
#     cgroups (proctrack/linuxproc, task/none), no accounting; each slurmd in a private mount namespace with an
#     empty tmpfs over <dir>/private, so jobs cannot see what the machine keeps there;
#   - s3rver (node_modules/.bin/s3rver, pure JavaScript) with the bucket $PIPE_TEST_S3_BUCKET (pipe-test).
# It waits until `sinfo` shows both nodes idle and the bucket answers over HTTP, then prints on stdout:
#   export SLURM_CONF=<dir>/slurm.conf PIPE_TEST_CLUSTER=1 AWS_ENDPOINT_URL=http://127.0.0.1:<s3 port>
#   export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1 PIPE_TEST_S3_BUCKET=pipe-test
#   export PIPE_TEST_HIDDEN_DIR=<dir>/private   (the nodes see an empty tmpfs there: see below)
# (one variable a line). Progress and errors go to stderr. `up` on a directory left by an earlier `up` first
# runs `down` and starts from an empty directory (the S3 data goes with it).
#
# Every config, pid file, spool and state dir, log and the S3 data lives under one directory:
#   PIPE_CLUSTER_DIR         default /tmp/pipe-cluster (it holds a .pipe-cluster marker; `up` only ever
#                            deletes a directory that has that marker)
#   PIPE_CLUSTER_PORT_BASE   default 17000: slurmctld on BASE, n1 on BASE+1, n2 on BASE+2, s3rver on BASE+10;
#                            give two clusters on one machine different bases (and directories)
# Logs: <dir>/log/{munged,slurmctld,slurmd-n1,slurmd-n2,s3rver}.log; `up` prints their tails when it fails.
#
# Needs root (slurmd runs jobs as the submitting user and SlurmUser=root), Debian's slurmctld, slurmd,
# slurm-client and munge packages (.ci/run installs them), and `npm ci` done (for s3rver and node).
# Measured here (2 busy cores): `up` 1.2-1.8 s from nothing (nodes idle after ~0.5-1 s, s3rver answers
# ~1 s after its start), 2.2-3 s when it first stops a running cluster; `down` ~0.5 s. `down` keeps the
# directory (logs) until the next `up`.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
D="${PIPE_CLUSTER_DIR:-/tmp/pipe-cluster}"
BASE="${PIPE_CLUSTER_PORT_BASE:-17000}"
CTLD_PORT=$BASE
N1_PORT=$((BASE + 1))
N2_PORT=$((BASE + 2))
S3_PORT=$((BASE + 10))
BUCKET=pipe-test
NODES="n1 n2"

log() { echo "cluster.sh: $*" >&2; }
die() { log "$*"; exit 1; }

# The export lines the tests need; `up` writes them to <dir>/env and `env` prints that file.
env_lines() {
  cat <<EOF
export SLURM_CONF=$D/slurm.conf
export PIPE_TEST_CLUSTER=1
export AWS_ENDPOINT_URL=http://127.0.0.1:$S3_PORT
export AWS_ACCESS_KEY_ID=S3RVER
export AWS_SECRET_ACCESS_KEY=S3RVER
export AWS_REGION=us-east-1
export PIPE_TEST_S3_BUCKET=$BUCKET
export PIPE_TEST_HIDDEN_DIR=$D/private
EOF
}

# A process that exited but is not yet reaped (a zombie: PID 1 here reaps only every second or two) is gone.
alive() {
  [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null || return 1
  [ "$(sed -n 's/.*) \(.\).*/\1/p' "/proc/$1/stat" 2>/dev/null)" != Z ]
}
pid_of() { if [ -f "$1" ]; then tr -dc '0-9' <"$1"; fi; }

# Ours: started by `up` with this cluster's PIPE_CLUSTER_TOKEN (a stale pid file may name someone else's pid).
ours() {
  local token
  token="$(cat "$D/run/token" 2>/dev/null)" && [ -n "$token" ] || return 1
  grep -qzxF "PIPE_CLUSTER_TOKEN=$token" "/proc/$1/environ" 2>/dev/null
}

# Stop the process in pid file $1 if it is ours: TERM, up to ~5 s, then KILL.
stop_pidfile() {
  local pid t0
  pid="$(pid_of "$1")"
  if alive "$pid" && ours "$pid"; then
    t0=$(date +%s%N)
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do alive "$pid" || break; sleep 0.1; done
    if alive "$pid"; then log "pid $pid ($1) ignored TERM; killing"; kill -KILL "$pid" 2>/dev/null || true; fi
    [ -z "${CLUSTER_DEBUG:-}" ] || log "stopped $1 in $((($(date +%s%N) - t0) / 1000000)) ms"
  fi
  rm -f "$1"
}

# Processes outside the pid files that this cluster started (slurmstepd, which slurmd forks with its own
# environment): `up` starts the daemons, and only them, with PIPE_CLUSTER_TOKEN=<random> (kept in run/token).
leftovers() {
  local token
  token="$(cat "$D/run/token" 2>/dev/null)" && [ -n "$token" ] || return 0
  grep -lzxF "PIPE_CLUSTER_TOKEN=$token" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3 || true
}

down() {
  [ -d "$D" ] || { log "nothing at $D"; return 0; }
  [ -f "$D/.pipe-cluster" ] || die "$D is not a cluster directory (no .pipe-cluster marker); not touching it"
  # Cancel jobs while the controller still answers, so slurmd can end their steps.
  if alive "$(pid_of "$D/run/slurmctld.pid")"; then
    SLURM_CONF="$D/slurm.conf" timeout 5 scancel --full --quiet --partition=debug 2>/dev/null || true
  fi
  stop_pidfile "$D/run/s3rver.pid"
  for n in $NODES; do stop_pidfile "$D/run/slurmd-$n.pid"; done
  stop_pidfile "$D/run/slurmctld.pid"
  stop_pidfile "$D/munge/munged.pid"
  local left
  left="$(leftovers | tr '\n' ' ')"
  if [ -n "$left" ]; then
    log "killing leftover job processes: $left"
    # shellcheck disable=SC2086
    kill -KILL $left 2>/dev/null || true
  fi
  rm -f "$D/env"
  log "down ($D)"
}

tail_logs() {
  local f
  for f in "$D"/log/*.log; do [ -f "$f" ] && { echo "--- $f" >&2; tail -n 15 "$f" >&2; }; done
}

fail_up() {
  log "$*"
  tail_logs
  down || true
  exit 1
}

up() {
  local t0 n
  t0=$(date +%s%N)
  for n in sinfo sbatch slurmctld slurmd munged mungekey; do
    command -v "$n" >/dev/null || die "no $n: apt-get install -y slurmctld slurmd slurm-client munge"
  done
  [ -x "$ROOT/node_modules/.bin/s3rver" ] || die "no $ROOT/node_modules/.bin/s3rver: run npm ci first"
  [ "$(id -u)" = 0 ] || die "must run as root"
  if [ -e "$D" ]; then
    [ -f "$D/.pipe-cluster" ] || die "$D exists and is not a cluster directory (no .pipe-cluster marker)"
    down
    rm -rf "$D"
  fi
  local t_down=$((($(date +%s%N) - t0) / 1000000))
  mkdir -p "$D"/{run,log,state,spool/n1,spool/n2,s3,munge,private}
  touch "$D/.pipe-cluster"
  chmod 755 "$D" "$D/log"
  local token
  token="$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
  echo "$token" >"$D/run/token"
  # Only the daemons get the token (this script's own subshells must not match it in `down`).
  tagged() { env PIPE_CLUSTER_TOKEN="$token" "$@"; }

  # s3rver first (node takes the longest to start: ~1 s); it runs in the background with its own log.
  # (env, not the tagged function: $! must be s3rver's own pid, not a subshell's.)
  env PIPE_CLUSTER_TOKEN="$token" "$ROOT/node_modules/.bin/s3rver" --directory "$D/s3" --address 127.0.0.1 --port "$S3_PORT" \
    --configure-bucket "$BUCKET" >"$D/log/s3rver.log" 2>&1 </dev/null &
  echo $! >"$D/run/s3rver.pid"

  # munge: a fresh key, owned by munge and mode 600; munged runs as munge and writes only under $D/munge.
  # munged wants its socket's directory searchable by all (clients connect to it); the key stays mode 600.
  chown munge:munge "$D/munge"
  chmod 755 "$D/munge"
  touch "$D/log/munged.log"
  chown munge:munge "$D/log/munged.log"
  runuser -u munge -- mungekey --create --keyfile="$D/munge/munge.key" 2>/dev/null \
    || fail_up "mungekey --create failed"
  chmod 600 "$D/munge/munge.key"
  tagged runuser -u munge -- munged --socket="$D/munge/munge.socket" --key-file="$D/munge/munge.key" \
    --pid-file="$D/munge/munged.pid" --seed-file="$D/munge/munged.seed" --log-file="$D/log/munged.log" \
    || fail_up "munged did not start"
  for _ in $(seq 50); do [ -S "$D/munge/munge.socket" ] && break; sleep 0.1; done
  [ -S "$D/munge/munge.socket" ] || fail_up "munged: no socket after 5 s"

  cat >"$D/slurm.conf" <<EOF
# Written by scripts/cluster.sh up; everything lives under $D.
ClusterName=pipe
SlurmctldHost=$(hostname -s)(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$D/munge/munge.socket
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool/%n
SlurmctldPidFile=$D/run/slurmctld.pid
SlurmdPidFile=$D/run/slurmd-%n.pid
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd-%n.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
# A submitted batch job waits for the next scheduling pass at most batch_sched_delay seconds after the last
# (default 3: 2-3 s per job); with 0 it starts on the controller's next 1 s tick.
SchedulerParameters=batch_sched_delay=0
ReturnToService=2
# Each node offers one (pretend) GPU, so jobs asking for --gres=gpu:N are scheduled as on a GPU cluster.
GresTypes=gpu
MinJobAge=300
KillWait=2
MailProg=/bin/true
NodeName=n1 NodeHostname=$(hostname -s) NodeAddr=127.0.0.1 Port=$N1_PORT CPUs=1 RealMemory=1000 Gres=gpu:1 State=UNKNOWN
NodeName=n2 NodeHostname=$(hostname -s) NodeAddr=127.0.0.1 Port=$N2_PORT CPUs=1 RealMemory=1000 Gres=gpu:1 State=UNKNOWN
PartitionName=debug Nodes=n1,n2 Default=YES MaxTime=INFINITE State=UP
EOF
  # The pretend GPU is /dev/null (SLURM wants a device file for a GPU): enough for scheduling and CUDA_VISIBLE_DEVICES.
  printf "AutoDetect=off\nNodeName=n1,n2 Name=gpu File=/dev/null\n" >"$D/gres.conf"
  export SLURM_CONF="$D/slurm.conf"

  tagged slurmctld -f "$D/slurm.conf" -i >"$D/log/slurmctld.out" 2>&1 </dev/null || fail_up "slurmctld did not start"
  for n in $NODES; do start_node "$n" || fail_up "slurmd -N $n did not start"; done

  local t_started=$((($(date +%s%N) - t0) / 1000000))
  for _ in $(seq 300); do
    [ "$(sinfo -h -N -o '%N %t' 2>/dev/null | sort -u | tr '\n' ' ')" = "n1 idle n2 idle " ] && break
    sleep 0.1
  done
  [ "$(sinfo -h -N -o '%N %t' 2>/dev/null | sort -u | tr '\n' ' ')" = "n1 idle n2 idle " ] \
    || fail_up "nodes not idle after 30 s: $(sinfo -h -N -o '%N %t' 2>&1 | tr '\n' ' ')"
  local t_nodes=$((($(date +%s%N) - t0) / 1000000))

  # The bucket answers a plain GET (s3rver lets unsigned requests through) once s3rver listens.
  local probe="fetch(process.argv[1]).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"
  for _ in $(seq 150); do
    alive "$(pid_of "$D/run/s3rver.pid")" || fail_up "s3rver exited"
    node -e "$probe" "http://127.0.0.1:$S3_PORT/$BUCKET" && break
    sleep 0.1
  done
  node -e "$probe" "http://127.0.0.1:$S3_PORT/$BUCKET" || fail_up "s3rver: bucket $BUCKET does not answer after 30 s"

  env_lines >"$D/env"
  log "up in $((($(date +%s%N) - t0) / 1000000)) ms (old cluster down at $t_down ms, daemons started at $t_started ms, nodes idle at $t_nodes ms) in $D"
  cat "$D/env"
}

start_node() {
  # Each slurmd (and so every job) runs in a private mount namespace where $D/private is an empty tmpfs: what
  # the coordinator keeps there (the isolation test's store) is out of the jobs' sight, as on a real cluster.
  env PIPE_CLUSTER_TOKEN="$(cat "$D/run/token")" unshare -m --propagation private \
    sh -c 'mount -t tmpfs -o size=1m none "$1" && exec slurmd -f "$2" -N "$3"' sh "$D/private" "$D/slurm.conf" "$1" \
    >"$D/log/slurmd-$1.out" 2>&1 </dev/null
}

node_arg() {
  case " $NODES " in *" ${1:-} "*) ;; *) die "no node '${1:-}'; nodes: $NODES" ;; esac
  [ -f "$D/env" ] || die "no cluster up at $D"
  export SLURM_CONF="$D/slurm.conf"
}

kill_node() {
  node_arg "$1"
  local jobs pid ns p
  jobs="$(squeue -h -w "$1" -o %i 2>/dev/null | tr '\n' ' ')"
  pid="$(pid_of "$D/run/slurmd-$1.pid")"
  alive "$pid" && ours "$pid" || die "node $1: its slurmd is not running"
  # The node is its mount namespace (start_node gives each slurmd its own): slurmd, the job steps it forked and
  # everything the jobs started, and nothing else on this machine.
  ns="$(readlink "/proc/$pid/ns/mnt")"
  [ -n "$ns" ] && [ "$ns" != "$(readlink /proc/self/ns/mnt)" ] || die "node $1 has no mount namespace of its own; not killing"
  for p in $(ls /proc | grep -E '^[0-9]+$'); do
    [ "$(readlink "/proc/$p/ns/mnt" 2>/dev/null)" = "$ns" ] && kill -KILL "$p" 2>/dev/null || true
  done
  scontrol update NodeName="$1" State=DOWN Reason="killed by cluster.sh" >&2
  log "node $1 killed (jobs on it: ${jobs:-none})"
}

revive_node() {
  node_arg "$1"
  alive "$(pid_of "$D/run/slurmd-$1.pid")" || start_node "$1" || die "slurmd -N $1 did not start"
  scontrol update NodeName="$1" State=RESUME >&2 || true
  for _ in $(seq 100); do
    case "$(sinfo -h -n "$1" -o %t)" in idle | mix | alloc) log "node $1 back"; return 0 ;; esac
    sleep 0.1
  done
  die "node $1 not back after 10 s: $(sinfo -h -n "$1" -o %t)"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  kill-node) kill_node "${2:-}" ;;
  revive-node) revive_node "${2:-}" ;;
  env) [ -f "$D/env" ] || die "no cluster up at $D (run: eval \"\$(scripts/cluster.sh up)\")"; cat "$D/env" ;;
  *) echo "usage: $0 up|down|env|kill-node N|revive-node N   (state in \${PIPE_CLUSTER_DIR:-/tmp/pipe-cluster})" >&2; exit 2 ;;
esac
