#!/usr/bin/env bash
# CI: the Slurm profile against a real single-node Slurm (docs/cluster.md, "What CI proves").
#
#   .ci/slurm.sh [PYTHON]      # PYTHON: an interpreter with the project's [slurm] extra
#
# Root on Debian only (elsewhere it says so and exits 0). It installs Slurm and munge from
# Debian's packages (no daemon is started by the packages), writes a one-node slurm.conf
# for this machine (its CPUs and memory; no accounting, so job states are read with squeue,
# and Slurm's job-completion log is the record of every job's final state), starts munged,
# slurmctld and slurmd under a private state folder, ports and munge socket, and then:
#   1. runs README's cluster command, with --configfile config/test.yaml, in a copy of the
#      checkout: every job a real sbatch job; checks the report, that every job COMPLETED,
#      and that the training runs give the same test accuracies and predictions as the
#      same runs trained locally (same inputs, same threads);
#   2. shows that a second snakemake on the folder is refused while a job is queued;
#   3. shows that a failing job (a broken run spec) stops the workflow, naming its log.
# The daemons are stopped by PID on exit, also on failure. Rerunnable: each run starts
# from a fresh state folder (default /var/tmp/rmaat-slurm-ci, or $RMAAT_SLURM_CI_DIR).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${1:-.venv/bin/python}
PYTHON=$(cd "$REPO" && cd "$(dirname "$PYTHON")" && pwd)/$(basename "$PYTHON")
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null || [ ! -e /etc/debian_version ]; then
  echo "slurm.sh: skipped (needs root on Debian to install Slurm); the Slurm profile is" \
       "still exercised by tests/test_slurm.py against stand-in commands"
  exit 0
fi
T0=$(date +%s)
say() { echo "slurm.sh [$(( $(date +%s) - T0 )) s]: $*"; }
STATE=${RMAAT_SLURM_CI_DIR:-/var/tmp/rmaat-slurm-ci}
export SLURM_CONF=$STATE/etc/slurm.conf
# Inside a job the executor plugin drops SLURM_* variables (SLURM_CONF too) before its srun,
# so the configuration must also be where Slurm looks by default; a link, removed on exit.
ETC_CONF=/etc/slurm/slurm.conf
if { [ -e "$ETC_CONF" ] || [ -L "$ETC_CONF" ]; } && [ "$(readlink "$ETC_CONF")" != "$SLURM_CONF" ]; then
  echo "slurm.sh: skipped: $ETC_CONF exists (this machine has a Slurm of its own)"
  exit 0
fi
BIN=$(dirname "$PYTHON")

# --- stop whatever a previous run left, by the PIDs it recorded -------------------------
stop_daemons() {
  if [ -S "$STATE/munge/socket" ] && [ -e "$STATE/slurmctld.pid" ]; then
    ids=$(squeue -h -o %i 2>/dev/null || true)
    if [ -n "$ids" ]; then
      # shellcheck disable=SC2086
      scancel $ids 2>/dev/null || true
      for _ in $(seq 30); do [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break; sleep 1; done
    fi
  fi
  for daemon in slurmd slurmctld munge/munged; do
    pidfile=$STATE/$daemon.pid
    [ -e "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    # only the daemon that wrote the file (a PID from before a reboot may be another process)
    if [ "$(ps -p "$pid" -o comm= 2>/dev/null)" = "$(basename "$daemon")" ] && kill "$pid"; then
      for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    fi
    rm -f "$pidfile"
  done
  if [ "$(readlink "$ETC_CONF")" = "$SLURM_CONF" ]; then rm -f "$ETC_CONF"; fi
}
stop_daemons

# --- install (packages only; their services stay stopped) -------------------------------
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null \
   || ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
  say "installing slurmctld slurmd slurm-client munge from Debian"
  own_policy=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    own_policy=1
  fi
  (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
     --no-install-recommends slurmctld slurmd slurm-client munge) > "/tmp/rmaat-slurm-apt.log" 2>&1 \
    || { echo "slurm.sh: apt-get failed, see /tmp/rmaat-slurm-apt.log"; tail -20 /tmp/rmaat-slurm-apt.log; exit 1; }
  [ -n "$own_policy" ] && rm -f /usr/sbin/policy-rc.d
fi
say "Slurm $(dpkg-query -W -f='${Version}' slurmctld) installed"

# --- configuration for this machine -----------------------------------------------------
rm -rf "$STATE"
mkdir -p "$STATE"/{etc,spool,ctld,log,munge}
chown munge:munge "$STATE/munge" && chmod 755 "$STATE/munge"
if [ ! -s /etc/munge/munge.key ]; then
  mungekey --create --keyfile=/etc/munge/munge.key 2>/dev/null \
    || dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 2>/dev/null
  chown munge:munge /etc/munge/munge.key && chmod 600 /etc/munge/munge.key
fi
NODE=$(hostname -s)
HW=$(slurmd -C | head -1)
CPUS=$(sed -n 's/.* CPUs=\([0-9]*\).*/\1/p' <<< "$HW")
MEM=$(sed -n 's/.* RealMemory=\([0-9]*\).*/\1/p' <<< "$HW")
cat > "$SLURM_CONF" <<EOF
# One node: this machine ($HW)
ClusterName=rmaatci
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=16817
SlurmdPort=16818
SlurmUser=root
AuthType=auth/munge
AuthInfo=socket=$STATE/munge/socket
CredType=cred/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$STATE/log/jobcomp.log
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
MpiDefault=none
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM State=UNKNOWN
PartitionName=ci Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
mkdir -p "$(dirname "$ETC_CONF")" && ln -sfn "$SLURM_CONF" "$ETC_CONF"

# --- daemons; stopped on exit whatever happens -------------------------------------------
FIRST=
cleanup() {
  rc=$?
  say "stopping the daemons"
  # a background snakemake of step 2 still running (a failure in between): stop it by PID
  if [ -n "$FIRST" ] && kill -0 "$FIRST" 2>/dev/null; then kill "$FIRST" 2>/dev/null || true; fi
  stop_daemons
  if [ -n "$FIRST" ] && kill -0 "$FIRST" 2>/dev/null; then
    sleep 5; kill -9 "$FIRST" 2>/dev/null || true
  fi
  exit $rc
}
trap cleanup EXIT
runuser -u munge -- munged --socket="$STATE/munge/socket" --pid-file="$STATE/munge/munged.pid" \
  --log-file="$STATE/munge/munged.log" --seed-file="$STATE/munge/seed"
slurmctld
slurmd
for _ in $(seq 60); do
  [ "$(sinfo -h -o %T 2>/dev/null)" = idle ] && break; sleep 1
done
[ "$(sinfo -h -o %T)" = idle ] \
  || { echo "slurm.sh: node not idle"; sinfo; tail "$STATE"/log/*; exit 1; }
say "Slurm up: node $NODE, $CPUS CPUs, $MEM MB, partition ci, no accounting"

# --- 1. README's cluster command on the tiny configuration -------------------------------
WORK=$STATE/work
mkdir -p "$WORK"
if git -C "$REPO" rev-parse --git-dir >/dev/null 2>&1; then  # the checkout's files only
  (cd "$REPO" && git ls-files -z | tar --null -T - -cf -) | tar -xf - -C "$WORK"
else
  tar -C "$REPO" --exclude=./.venv --exclude=./results --exclude=./data --exclude=./logs \
    --exclude=./.snakemake -cf - . | tar -xf - -C "$WORK"
fi
cd "$WORK"
export PATH="$BIN:$PATH"
T1=$(date +%s)
say "1. README's cluster command with --configfile config/test.yaml"
snakemake --profile workflow/profiles/slurm --configfile config/test.yaml \
  > "$STATE/run.log" 2>&1 || { tail -60 "$STATE/run.log"; echo "slurm.sh: the run failed"; exit 1; }
RUN_S=$(( $(date +%s) - T1 ))
grep -E "^(note|warning|error):" "$STATE/run.log" || true
test -s results/report.html
"$PYTHON" - "$STATE/run.log" "$STATE/log/jobcomp.log" "$RUN_S" <<'EOF'
import collections, re, sys
log, comp, seconds = open(sys.argv[1]).read(), open(sys.argv[2]).read(), sys.argv[3]
submitted = dict(re.findall(r"submitted with SLURM jobid (\d+) \(log: \S*/rule_(\w+?)/", log))
states = dict(re.findall(r"JobId=(\d+) .*?JobState=(\S+)", comp))
done = re.search(r"(\d+) of (\d+) steps \(100%\) done", log)
table = collections.Counter((rule, states.get(job, "MISSING")) for job, rule in submitted.items())
print(f"profile run: {len(submitted)} sbatch jobs, {done.group(0) if done else 'not done'}, "
      f"{seconds} s wall")
for (rule, state), n in sorted(table.items()):
    print(f"  {rule:20s} {state:10s} {n}")
bad = {j: s for j, s in states.items() if s != "COMPLETED"}
assert submitted and done and set(submitted) == set(states) and not bad, (submitted, states)
EOF

# Same runs trained locally from the same inputs (data, specs, retention), same threads.
say "   the same training runs locally (--cores $(nproc))"
mkdir -p "$STATE/local"
cp -a "$WORK/." "$STATE/local/"
cd "$STATE/local"
rm -rf .snakemake
mapfile -t METRICS < <(cd "$WORK" && ls results/runs/*/*/seed*/metrics.json)
for m in "${METRICS[@]}"; do find "$(dirname "$m")" -mindepth 1 ! -name spec.json -delete; done
snakemake --cores "$(nproc)" --configfile config/test.yaml -- "${METRICS[@]}" \
  > "$STATE/local.log" 2>&1 || { tail -40 "$STATE/local.log"; echo "slurm.sh: local run failed"; exit 1; }
"$PYTHON" - "$WORK" "$STATE/local" "${METRICS[@]}" <<'EOF'
import json, sys
slurm, local, files = sys.argv[1], sys.argv[2], sys.argv[3:]
same = True
for f in files:
    a, b = (json.load(open(f"{root}/{f}")) for root in (slurm, local))
    equal = a["test_acc"] == b["test_acc"] and a["test_predictions"] == b["test_predictions"]
    same &= equal
    run = f.split("/", 2)[2].rsplit("/", 1)[0]
    print(f"  {run:28s} test_acc slurm {a['test_acc']:.4f} local {b['test_acc']:.4f} "
          f"{'equal' if equal else 'DIFFERENT'}")
assert same, "Slurm and local training differ"
print(f"accuracies: {len(files)} runs, Slurm = local (accuracy and every test prediction)")
EOF
cd "$WORK"

# --- 2. a second snakemake on the same folder while a job is queued: refused -------------
say "2. a second snakemake while a job is queued"
ONE=results/runs/listops/transformer/seed0/metrics.json
snakemake --profile workflow/profiles/slurm --configfile config/test.yaml --forcerun train \
  -- "$ONE" > "$STATE/first.log" 2>&1 &
FIRST=$!
for _ in $(seq 120); do
  grep -q "submitted with SLURM jobid" "$STATE/first.log" && break; sleep 0.5
done
squeue -h -o '%i %T' | grep -q . \
  || { echo "slurm.sh: no job queued"; cat "$STATE/first.log"; exit 1; }
if snakemake --profile workflow/profiles/slurm --configfile config/test.yaml \
     > "$STATE/second.log" 2>&1; then
  echo "slurm.sh: a second snakemake ran while the first had a job queued"; exit 1
fi
grep -q "Directory cannot be locked" "$STATE/second.log" \
  || { cat "$STATE/second.log"; echo "slurm.sh: the second run failed for another reason"; exit 1; }
say "   refused: $(grep -m1 -o 'Directory cannot be locked[^.]*' "$STATE/second.log")"
wait "$FIRST" || { tail -30 "$STATE/first.log"; echo "slurm.sh: the first run failed"; exit 1; }
FIRST=

# --- 3. a job failing on the cluster stops the workflow and names its log ---------------
say "3. a training run with a broken spec"
echo '{"broken": true}' > results/runs/listops/transformer/seed0/spec.json
# only that run as the target (the rest of the DAG would repeat step 1's jobs), and no
# retry of the failing job (the profile's one retry only doubles the wait for its failure)
if snakemake --profile workflow/profiles/slurm --configfile config/test.yaml --retries 0 \
     -- "$ONE" > "$STATE/broken.log" 2>&1; then
  echo "slurm.sh: the run with a broken spec succeeded"; exit 1
fi
grep -q "logs/train/listops/transformer/seed0.log" "$STATE/broken.log" \
  && grep -q "slurm_logs/rule_train/listops_transformer_0" "$STATE/broken.log" \
  || { tail -40 "$STATE/broken.log"; echo "slurm.sh: the error does not name the logs"; exit 1; }
say "   the workflow stopped; its message names:"
grep -E "Error in rule|log: |SLURM-job|slurm_logs" "$STATE/broken.log" | sort -u | sed 's/^/    /' | head -8
say "done: the profile run took $RUN_S s; this whole step $(( $(date +%s) - T0 )) s"
