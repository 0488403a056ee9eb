"""Simulate and distill one sensitivity point, with a per-point cache (docs/design.md §2.4).

A point is one set of resolved simulation parameters (:func:`pipeline.sensitivity.perturbation`).
It is simulated in this process with the simulation stage's own ``simulate`` (the rate model on
its configured target, Cython by default, reusing the compiled code in ``cache_dir``; the
tripartite model on its shared C++ standalone project, parameters passed at run time) and
distilled with the sweep analysis's :func:`~distill.sweeps.analysis.fit_point` (no bootstrap).
Nothing a point does can stop the analysis: a simulation or fit that fails is a point with
status ``failed`` (or the fit's status, e.g. ``not saturated``) and the reason.

Cache: ``<cache_dir>/<key>.json`` (and the point's ``readout.csv``), ``key`` = SHA-256 of the
point's parameters, ``max_segments`` and :data:`CACHE_VERSION`. A job that reruns because one
parameter changed recomputes only the points whose parameters changed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import resource
import time
import traceback
from pathlib import Path
from typing import Any

from pipeline.io import atomic_write_json, atomic_write_text

from ..sweeps.analysis import FITTED, fit_point

log = logging.getLogger("distill.sensitivity")

#: Bump when what a point stores, or how it is computed, changes (invalidates every cache).
CACHE_VERSION = 1


def cpu_seconds() -> float:
    """CPU time (user + system, s) of this process and of its finished children (the C++
    standalone binaries and compilers it ran)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def point_key(params: dict[str, Any], max_segments: int) -> str:
    """The cache key of a point: a hash of everything its result depends on."""
    text = json.dumps({"params": params, "max_segments": int(max_segments),
                       "version": CACHE_VERSION}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def summarise_fit(fit: dict[str, Any]) -> dict[str, Any]:
    """What the analysis keeps of a point's fit JSON: status, reason, the selected macro
    model (name, parameters: enough to recompute RF(·, T) for any T), τc, τ_LTP, plateau."""
    out = {"status": fit["status"], "reason": fit["reason"], "warnings": fit["warnings"],
           "macro_model": None, "tau_cycle_s": None, "tau_ltp_s": None, "plateau": None}
    ret = fit.get("retention")
    if ret is not None and fit["status"] in FITTED:
        derived = ret.get("derived") or {}
        out.update(macro_model={"name": ret["macro_model"]["name"],
                                "params": ret["macro_model"]["params"],
                                "r2": ret["macro_model"]["r2"]},
                   tau_cycle_s=ret["tau_cycle_s"], tau_ltp_s=derived.get("tau_ltp_s"),
                   plateau=derived.get("plateau"))
    return out


def fit_readout(readout_path: str | Path, params: dict[str, Any],
                max_segments: int) -> dict[str, Any]:
    """Distill a readout CSV like a sweep point (no bootstrap) and summarise it."""
    return summarise_fit(fit_point(readout_path, params, max_segments, n_boot=0))


def _failed(reason: str) -> dict[str, Any]:
    return {"status": "failed", "reason": reason, "warnings": [], "macro_model": None,
            "tau_cycle_s": None, "tau_ltp_s": None, "plateau": None}


def _simulate(params: dict[str, Any]):
    from simulation import rate_model, tripartite

    simulate = tripartite.simulate if params.get("model") == "tripartite" else \
        rate_model.simulate
    return simulate(params, progress=False)


def run_point(params: dict[str, Any], max_segments: int, readout_path: str | Path
              ) -> dict[str, Any]:
    """Simulate and distill one point; never raises. The readout is written to
    ``readout_path``. Returns the fit summary plus ``cpu_s`` and ``wall_s`` of the point."""
    start, cpu = time.perf_counter(), cpu_seconds()
    try:
        result = _simulate(params)
    except Exception as err:  # noqa: BLE001 - any failure is a reported point, never a crash
        log.warning("point %s: simulation failed: %s\n%s", params["condition"], err,
                    traceback.format_exc())
        out = _failed(f"simulation failed: {type(err).__name__}: {err}")
    else:
        atomic_write_text(readout_path, result.readout.to_csv(index=False))
        try:
            out = fit_readout(readout_path, params, max_segments)
        except Exception as err:  # noqa: BLE001 - as above
            out = _failed(f"fit failed: {type(err).__name__}: {err}")
        out["compile_s"] = result.info.get("compile_s")
    out.update(cpu_s=cpu_seconds() - cpu, wall_s=time.perf_counter() - start)
    return out


def cached_point(params: dict[str, Any], max_segments: int, cache_dir: str | Path
                 ) -> tuple[dict[str, Any], bool]:
    """The result of one point from ``cache_dir``, or computed now and stored there.

    Returns (result, computed); the result carries its ``key``.
    """
    cache_dir = Path(cache_dir)
    key = point_key(params, max_segments)
    path = cache_dir / f"{key}.json"
    if path.is_file():
        try:
            cached = json.loads(path.read_text())
            if cached.get("key") == key:
                return cached, False
        except json.JSONDecodeError:
            log.warning("cache file %s is not valid JSON; recomputing the point", path)
    cache_dir.mkdir(parents=True, exist_ok=True)
    result = run_point(params, max_segments, cache_dir / f"{key}.readout.csv")
    result.update(key=key, condition=params["condition"],
                  sensitivity=params.get("sensitivity"))
    atomic_write_json(path, result)
    return result, True


def prune_cache(cache_dir: str | Path, keep: set[str]) -> int:
    """Delete cached points whose key is not in ``keep`` (points no longer in the plan);
    returns how many were removed."""
    cache_dir = Path(cache_dir)
    removed = 0
    if not cache_dir.is_dir():
        return 0
    for path in cache_dir.iterdir():
        key = path.name.split(".")[0]
        if path.suffix in (".json", ".csv") and key not in keep:
            path.unlink()
            removed += 1
    return removed
