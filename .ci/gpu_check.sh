#!/usr/bin/env bash
# The GPU check as one command (docs/gpu.md). Two steps:
#
#   bash .ci/gpu_check.sh --prepare     # here, where PyPI is reachable: the public RMT's wheels
#                                       # and the commit into .gpu_carry/ (git-ignored)
#   bash .ci/gpu_check.sh [OPTIONS]     # on the GPU machine; OPTIONS go to
#                                       # python -m benchmarks.gpu_check (e.g. --budget-s 300)
#
# On the GPU machine nothing is downloaded: the project is run from the tree (PYTHONPATH), not
# installed, with the Python that already holds a CUDA build of torch (PYTHON, else
# .venv/bin/python, else python3: whichever first imports torch); the wheels in
# .gpu_carry/wheels (if any) go to a scratch folder. Results go to $OUT (the lent machine's
# folder that comes back) or, without it, results/benchmarks/gpu/: gpu_check.csv,
# gpu_check.md, speed_claim.csv, gpu_check.log and nvidia-smi.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
CARRY=.gpu_carry
PEER_WHEELS=(recurrent-memory-transformer-pytorch==0.7.0 hyper-connections==0.4.11
             torch-einops-utils==0.2.0)

if [ "${1:-}" = "--prepare" ]; then
  mkdir -p "$CARRY/wheels"
  "${PYTHON:-python3}" -m pip download -q --no-deps --only-binary=:all: -d "$CARRY/wheels" \
    "${PEER_WHEELS[@]}"
  stamp="$(git rev-parse HEAD)"
  [ -n "$(git status --porcelain)" ] && stamp="$stamp dirty"
  echo "$stamp" > "$CARRY/COMMIT"
  echo "prepared $CARRY: $(ls "$CARRY/wheels" | tr '\n' ' ')commit $stamp"
  exit 0
fi

PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  for candidate in .venv/bin/python python3 python; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import torch' 2>/dev/null
    then PY="$candidate"; break; fi
  done
fi
if [ -z "$PY" ]; then
  echo "error: no Python with torch found (set PYTHON=/path/to/python)" >&2
  exit 2
fi
missing="$("$PY" - <<'EOF'
import importlib.util
need = ["torch", "numpy", "scipy", "yaml", "tqdm", "einops", "PIL"]
print(" ".join(m for m in need if importlib.util.find_spec(m) is None))
EOF
)"
if [ -n "$missing" ]; then
  echo "error: $PY lacks the modules: $missing (carry them as wheels, docs/gpu.md)" >&2
  exit 2
fi

if compgen -G "$CARRY/wheels/*.whl" >/dev/null; then
  site="$(mktemp -d)"
  if "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$site" \
       "$CARRY"/wheels/*.whl; then
    export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
  else
    echo "warning: the wheels in $CARRY/wheels did not install; the public RMT is skipped" >&2
  fi
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
if [ -f "$CARRY/COMMIT" ] && ! git rev-parse HEAD >/dev/null 2>&1; then
  GPU_CHECK_COMMIT="$(cat "$CARRY/COMMIT")"
  export GPU_CHECK_COMMIT
fi

dest="${OUT:-results/benchmarks/gpu}"
mkdir -p "$dest"
if command -v nvidia-smi >/dev/null 2>&1; then
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv \
    > "$dest/nvidia-smi.txt" 2>&1 || true
fi
echo "python: $PY ($("$PY" -c 'import torch; print(torch.__version__, "CUDA", torch.version.cuda)'))"
PYTHONUNBUFFERED=1 "$PY" -m benchmarks.gpu_check --out "$dest" "$@" 2>&1 \
  | tee "$dest/gpu_check.log"
