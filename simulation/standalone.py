"""Compile once, run many: Brian2 C++ standalone projects shared by parameter sweeps.

A model whose parameters are all run-time variables (shared constants, never literals in the
code) generates the same C++ code for every parameter set of one *structure* (sizes, dt,
duration, seed). Such a project is built once into
``<cache_dir>/standalone/<model>-<key>/`` (``key`` hashes the structure, the model's source
code and the Brian2/Python versions) together with a ``manifest.json`` that says which file
of the results directory holds which recorded array. Every run afterwards needs no Brian2
code generation at all: it starts the binary with the parameter values on its command line
(``./main --results_dir runs/<id> presyn.rate=2.0 ...``, exactly what
``device.run(run_args=...)`` passes), reads the arrays named in the manifest and deletes its
results directory. A run thus costs the binary's time plus about a second of Python.

Sharing between concurrent processes (Snakemake jobs): whoever first needs a project builds
it while holding an exclusive file lock (``<project>.lock``, Brian2's ``FileLock``); everyone
else waits for the lock and then finds ``manifest.json``, which is written last (atomically),
so a project with a manifest is complete. Nothing in a built project is rewritten, and every
run writes into its own results directory, so runs never clash.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import os
import shutil
import subprocess
import sys
import sysconfig
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from brian2.utils.filelock import FileLock

from pipeline.io import atomic_write_text

log = logging.getLogger("simulation.standalone")

#: Seconds to wait for another process that is compiling the same project.
LOCK_TIMEOUT_S = 1800


def compiler_available() -> bool:
    """Whether a C++ compiler (``$CXX``, Python's own, g++, c++ or clang++) is on the PATH."""
    candidates = [os.environ.get("CXX"), (sysconfig.get_config_var("CXX") or "").split(" ")[0],
                  "g++", "c++", "clang++"]
    return any(c and shutil.which(c) for c in candidates)


def available_target(requested: str) -> str:
    """``requested`` if it can run here; without a compiler the fallback is numpy (logged)."""
    if requested == "numpy" or compiler_available():
        return requested
    log.warning("no C++ compiler found: target %s falls back to numpy (much slower)", requested)
    return "numpy"


def project_dir(cache_dir: str | Path, structure: dict[str, Any], module: Any) -> Path:
    """The shared project directory of one model structure (absolute path)."""
    import brian2

    text = "\n".join([json.dumps(structure, sort_keys=True), inspect.getsource(module),
                      inspect.getsource(sys.modules[__name__]), brian2.__version__, sys.version])
    key = hashlib.sha256(text.encode()).hexdigest()[:16]
    return Path(cache_dir).resolve() / "standalone" / f"{structure['model']}-{key}"


def back_to_runtime() -> None:
    """Forget the standalone device state and go back to the runtime device."""
    import brian2 as b2

    b2.device.reinit()
    b2.device.activate()
    b2.set_device("runtime")


def ensure_project(params: dict[str, Any], module: Any) -> tuple[Path, float, bool]:
    """The built project for ``params``' structure: reused if complete, else built now.

    ``module`` provides ``structure(params)``, ``build_network(params)`` and
    ``recorded_arrays(objects)`` (``{name: (Brian2 variable, columns or None)}``). Returns the
    directory, the seconds spent building or waiting for another process's build (0 when the
    project was complete already) and whether this call compiled it.
    """
    structure = module.structure(params)
    directory = project_dir(params["cache_dir"], structure, module)
    if (directory / "manifest.json").is_file():
        return directory, 0.0, False
    directory.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    built = False
    with FileLock(str(directory) + ".lock", timeout=LOCK_TIMEOUT_S):
        if not (directory / "manifest.json").is_file():
            try:
                _build(params, module, directory, structure)
                built = True
            finally:
                back_to_runtime()
    return directory, time.perf_counter() - start, built


def _build(params: dict[str, Any], module: Any, directory: Path,
           structure: dict[str, Any]) -> None:
    import brian2 as b2

    b2.device.reinit()
    b2.device.activate()
    b2.set_device("cpp_standalone", build_on_run=False)
    b2.start_scope()
    objects = module.build_network(params)
    objects["network"].run(objects["duration"], namespace={})
    log.info("compiling C++ standalone project %s", directory)
    b2.device.build(directory=str(directory), compile=True, run=False, clean=False,
                    with_output=False)
    arrays = {name: {"file": b2.device.get_array_filename(var), "dtype": np.dtype(var.dtype).str,
                     "columns": columns}
              for name, (var, columns) in module.recorded_arrays(objects).items()}
    run_args = {f"{group}.{name}": f"{objects[group].name}.{name}"
                for group, name in module.run_values(params)}
    cmd = b2.prefs.devices.cpp_standalone.run_cmd_unix
    manifest = {"structure": structure, "arrays": arrays, "run_args": run_args,
                "run_cmd": [cmd] if isinstance(cmd, str) else list(cmd),
                "env": dict(b2.prefs["devices.cpp_standalone.run_environment_variables"])}
    atomic_write_text(directory / "manifest.json", json.dumps(manifest, indent=2))


def command_line_value(value: Any) -> str:
    """A run-time value as the binary reads it: the number in SI base units."""
    return repr(int(value)) if isinstance(value, int | np.integer) else repr(float(value))


def run_project(directory: Path, values: dict[tuple[str, str], Any],
                label: str = "run") -> tuple[dict[str, np.ndarray], float]:
    """Run a built project once with these run-time values; returns its arrays and seconds.

    ``values`` maps ``(group, variable)`` to a quantity or number; every run-time variable of
    the model must be given (the compiled defaults are placeholders). The arrays come back
    as NumPy arrays (2-D ``(samples, columns)`` where the manifest says so) in SI units.
    """
    manifest = json.loads((directory / "manifest.json").read_text())
    missing = set(manifest["run_args"]) - {f"{g}.{n}" for g, n in values}
    if missing:
        raise ValueError(f"run-time values missing for {sorted(missing)}")
    results = Path("runs") / f"{label.replace('/', '_')}-{uuid.uuid4().hex[:8]}"
    (directory / results).mkdir(parents=True)
    args = [f"{manifest['run_args'][f'{g}.{n}']}={command_line_value(v)}"
            for (g, n), v in values.items()]
    env = {**os.environ, **manifest["env"]}
    start = time.perf_counter()
    try:
        proc = subprocess.run([*manifest["run_cmd"], "--results_dir", f"{results}/", *args],
                              cwd=directory, env=env, capture_output=True, text=True)
        elapsed = time.perf_counter() - start
        if proc.returncode != 0:
            raise RuntimeError(f"standalone run failed in {directory} (exit {proc.returncode}):"
                               f"\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
        arrays = {}
        for name, spec in manifest["arrays"].items():
            data = np.fromfile(directory / results / spec["file"], dtype=np.dtype(spec["dtype"]))
            if spec["columns"] is not None:
                data = data.reshape(-1, spec["columns"])
            arrays[name] = data
    finally:
        shutil.rmtree(directory / results, ignore_errors=True)
    return arrays, elapsed


def run_standalone(params: dict[str, Any], module: Any,
                   label: str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Build or reuse the project of ``params`` and run it with ``module.run_values(params)``."""
    directory, compile_s, _ = ensure_project(params, module)
    arrays, run_s = run_project(directory, module.run_values(params), label)
    return arrays, {"compile_s": compile_s, "run_s": run_s, "project": str(directory)}


def runtime_arrays(recorded: dict[str, tuple[Any, Callable | int | None]]) -> dict[str, np.ndarray]:
    """The same arrays as :func:`run_project` from a runtime (numpy/cython) simulation."""
    out = {}
    for name, (var, columns) in recorded.items():
        data = np.asarray(var.get_value())
        out[name] = data.reshape(-1, columns) if columns is not None else data.reshape(-1)
    return out
