#!/usr/bin/env bash
# Install and start a one-node SLURM cluster (Debian slurm-wlm + munge) on this machine, for the
# tests marked `slurm` (tests/test_slurm.py). Run as root. Idempotent: a second run leaves a
# running, correctly configured cluster alone and only waits for it to be idle.
#
#   bash .ci/slurm/setup.sh            # partition "debug", all cores, memory minus 2 GiB
#   SLURM_PARTITION=cpu bash .ci/slurm/setup.sh
#
# Recipe (docs/SLURM.md, shared/ENVIRONMENT.md): munge auth, linuxproc process tracking, no task
# plugin, cons_tres with CR_Core_Memory, no accounting (so `sacct` fails: run Snakemake with
# `--slurm-status-command squeue`; MinJobAge=3600 keeps finished jobs visible to squeue).
set -euo pipefail

PARTITION="${SLURM_PARTITION:-debug}"
HOST="$(hostname -s)"
CPUS="$(nproc)"
MEM_TOTAL_MB="$(awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo)"
REAL_MEM_MB="${SLURM_REAL_MEMORY:-$(( MEM_TOTAL_MB > 4096 ? MEM_TOTAL_MB - 2048 : MEM_TOTAL_MB / 2 ))}"
CONF=/etc/slurm/slurm.conf

log() { echo "[slurm-setup] $*"; }

if [ "$(id -u)" -ne 0 ]; then
  echo "[slurm-setup] error: run as root (apt-get, /etc/slurm and the daemons need it)" >&2
  exit 1
fi

# 1. Packages -----------------------------------------------------------------------------------
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null \
   || ! command -v sinfo >/dev/null; then
  log "installing slurm-wlm and munge"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
fi

# 2. munge ---------------------------------------------------------------------------------------
mkdir -p /etc/munge /run/munge /var/lib/munge /var/log/munge
if [ ! -s /etc/munge/munge.key ]; then
  log "creating /etc/munge/munge.key"
  dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
fi
chown munge:munge /etc/munge/munge.key /run/munge /var/lib/munge /var/log/munge
chmod 400 /etc/munge/munge.key
chmod 755 /run/munge
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  log "starting munged"
  runuser -u munge -- /usr/sbin/munged
  for _ in $(seq 20); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.5; done
fi
munge -n | unmunge >/dev/null || { echo "[slurm-setup] error: munge does not work" >&2; exit 1; }

# 3. slurm.conf ----------------------------------------------------------------------------------
mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
NEW_CONF="$(cat <<CONF
# Written by .ci/slurm/setup.sh: a one-node test cluster.
ClusterName=dataeff-ci
SlurmctldHost=${HOST}
AuthType=auth/munge
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SlurmUser=root
SlurmdUser=root
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MinJobAge=3600
ReturnToService=2
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2
MpiDefault=none
KillWait=5
InactiveLimit=0
NodeName=${HOST} CPUs=${CPUS} RealMemory=${REAL_MEM_MB} State=UNKNOWN
PartitionName=${PARTITION} Nodes=${HOST} Default=YES MaxTime=INFINITE State=UP
CONF
)"
CHANGED=0
if [ ! -f "$CONF" ] || [ "$(cat "$CONF")" != "$NEW_CONF" ]; then
  log "writing $CONF (node ${HOST}: ${CPUS} CPUs, ${REAL_MEM_MB} MB; partition ${PARTITION})"
  printf '%s\n' "$NEW_CONF" > "$CONF"
  CHANGED=1
fi
# Slurm 22.05 reads cgroup.conf only for cgroup plugins; an empty one silences a warning.
[ -f /etc/slurm/cgroup.conf ] || echo "# unused: proctrack/linuxproc, task/none" > /etc/slurm/cgroup.conf

# 4. daemons -------------------------------------------------------------------------------------
running() {  # running NAME PIDFILE: the daemon recorded in PIDFILE is alive
  [ -f "$2" ] && kill -0 "$(cat "$2")" 2>/dev/null && [ "$(cat /proc/"$(cat "$2")"/comm 2>/dev/null)" = "$1" ]
}
stop() {  # stop NAME PIDFILE: end exactly the daemon this script started (by its pid)
  if running "$1" "$2"; then
    log "stopping $1 (config changed)"
    kill "$(cat "$2")"
    for _ in $(seq 20); do running "$1" "$2" || break; sleep 0.5; done
  fi
}
if [ "$CHANGED" = 1 ]; then
  stop slurmd /run/slurmd.pid
  stop slurmctld /run/slurmctld.pid
fi
if ! running slurmctld /run/slurmctld.pid; then
  log "starting slurmctld"
  slurmctld
fi
if ! running slurmd /run/slurmd.pid; then
  log "starting slurmd"
  slurmd
fi

# 5. wait until the node is idle ----------------------------------------------------------------
for i in $(seq 60); do
  STATE="$(sinfo -h -p "$PARTITION" -o %t 2>/dev/null | head -n1 || true)"
  case "$STATE" in
    idle|mix|alloc) log "cluster up: partition ${PARTITION} is ${STATE}"; sinfo; exit 0 ;;
    down*|drain*|drng*|fail*) scontrol update NodeName="$HOST" State=RESUME 2>/dev/null || true ;;
  esac
  sleep 1
done
echo "[slurm-setup] error: partition ${PARTITION} did not become idle in 60 s (see /var/log/slurm/*.log)" >&2
sinfo >&2 || true
exit 1
