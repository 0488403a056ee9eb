"""Command line of the distill stage.

    python -m distill fit --readout results/simulation/baseline/readout.csv \\
        --condition baseline --max-segments 64 --out results/retention/baseline.json \\
        --plot-dir results/plots/baseline
    python -m distill compare --retention a.json b.json --readout a.csv b.csv \\
        --out results/plots/conditions.png

Exit status: 0 on success; 2 for bad arguments (argparse) and for every expected input problem
(missing or malformed file, readout that does not increase and saturate, no eligible macro
model), with a one-line ``error:`` message on stderr and no traceback; 1 if an output cannot be
written (OS error). Warnings go to stderr as ``warning:`` lines.
"""

from __future__ import annotations

import argparse
import logging
import sys
import warnings
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path

from pipeline.io import atomic_write_json

from .derived import BOOTSTRAP_N, fmt
from .errors import DistillError, DistillWarning, ReadoutError
from .io import read_readout, read_retention, validate_retention
from .macro_models import MODELS
from .pipeline import MIN_R2, MIN_SATURATION, WARN_SATURATION, DistillResult, distill
from .plots import DEFAULT_T, QUANTITIES, plot_comparison, plot_fit, plot_schedules

log = logging.getLogger("distill")

class _LogFormat(logging.Formatter):
    """Info lines with time and logger; warnings and errors as "warning: ..." / "error: ..."
    (the workflow copies those lines from the job log to the console)."""

    def format(self, record: logging.LogRecord) -> str:
        if record.levelno >= logging.WARNING:
            return f"{record.levelname.lower()}: {record.getMessage()}"
        return super().format(record)


def _setup_logging() -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(_LogFormat("%(asctime)s %(name)s %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)

EXIT_INPUT = 2


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m distill`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="python -m distill",
        description="Fit saturating macro models to the simulated LTP readout p^l and write "
        "memory retention factor schedules RF(t, T).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version('rmaat')}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{fit,compare}")

    fit = sub.add_parser(
        "fit", help="fit one condition's readout, write its retention JSON and plots",
        description="Fit every macro-model candidate (" + ", ".join(MODELS) + ") to a readout "
        "CSV (columns cycle,time_s,p_l), select the eligible one of lowest AIC, and write "
        "RF(t, T) for T = 1..max-segments.",
    )
    fit.add_argument("--readout", required=True, type=Path, help="readout CSV (cycle,time_s,p_l)")
    fit.add_argument("--condition", required=True, help="condition name, recorded in the JSON")
    fit.add_argument("--max-segments", required=True, type=_positive_int, metavar="T_MAX",
                     help="write schedules for every T in 1..T_MAX")
    fit.add_argument("--out", required=True, type=Path, help="retention JSON to write")
    fit.add_argument("--plot-dir", type=Path, default=None,
                     help="write fit.png and schedules.png here (default: no plots)")
    fit.add_argument("--quantity", choices=list(QUANTITIES), default="p_l",
                     help="what the readout's p_l column holds, for the plot labels: the rate "
                     "model's p^l (default) or the tripartite readout (gamma_s, "
                     "release_probability)")
    fit.add_argument("--plot-T", type=_positive_int, nargs="+", default=list(DEFAULT_T),
                     metavar="T", help="schedule lengths drawn in schedules.png "
                     f"(default: {' '.join(map(str, DEFAULT_T))})")
    fit.add_argument("--models", nargs="+", choices=list(MODELS), default=None,
                     help="candidates to fit (default: all)")
    fit.add_argument("--min-saturation", type=_fraction, default=MIN_SATURATION,
                     help="error if the selected fit has reached less than this share of its "
                     f"asymptote at the end of the readout (default {MIN_SATURATION})")
    fit.add_argument("--warn-saturation", type=_fraction, default=WARN_SATURATION,
                     help=f"warn below this share (default {WARN_SATURATION})")
    fit.add_argument("--min-r2", type=_fraction, default=MIN_R2,
                     help=f"warn if the selected fit has a lower R² (default {MIN_R2})")
    fit.add_argument("--strict", action="store_true",
                     help="treat every warning except extrapolation as an error")
    fit.add_argument("--bootstrap", type=int, default=BOOTSTRAP_N, metavar="N",
                     help="bootstrap resamples over pairs for readouts with pair_* columns "
                     f"(0: none; default {BOOTSTRAP_N})")
    fit.add_argument("--seed", type=int, default=0, help="seed of the bootstrap (default 0)")

    cmp_ = sub.add_parser(
        "compare", help="plot several conditions side by side",
        description="Fitted curves, RF(t, T) for one T and RF(1, T) vs T for several "
        "conditions, from their retention JSONs (and readouts).",
    )
    cmp_.add_argument("--retention", required=True, type=Path, nargs="+",
                      help="retention JSONs written by 'fit'")
    cmp_.add_argument("--readout", type=Path, nargs="+", default=None,
                      help="matching readout CSVs, in the same order (optional)")
    cmp_.add_argument("--out", required=True, type=Path, help="PNG to write")
    cmp_.add_argument("--T", type=_positive_int, default=None, dest="T",
                      help="schedule length to compare (default: largest common T <= 16)")
    return parser


def _summary(result: DistillResult) -> str:
    ro, sel = result.readout, result.selected
    lines = [
        f"distill {result.condition}: {ro.source} ({ro.n_points} points, τc = "
        f"{ro.tau_cycle_s:g} s, duration {ro.duration_s:g} s)",
        f"  {'candidate':<11}{'eligible':<10}{'R²':>9}{'AICc':>12}{'ΔAICc':>9}",
    ]
    for c in result.candidates:
        if c.status != "ok":
            lines.append(f"  {c.name:<11}{'no':<10}{'fit failed: ' + str(c.reason):>30}")
            continue
        mark = "  <- selected" if c is sel else ("" if c.eligible else f"  ({c.reason[:60]}...)")
        aicc = c.aicc if c.aicc is not None else c.aic
        delta = c.delta_aicc if c.delta_aicc is not None else c.delta_aic
        lines.append(f"  {c.name:<11}{'yes' if c.eligible else 'no':<10}{c.r2:>9.5f}"
                     f"{aicc:>12.1f}{delta:>9.1f}{mark}")
    params = ", ".join(f"{k} = {v:.5g} ± {sel.stderr[k]:.2g}" for k, v in sel.params.items())
    T = result.max_segments
    rf = result.schedules[T]
    lines.append(f"  selected {sel.name}: {params}")
    d = result.derived
    lines.append(f"  τ_LTP = {fmt(d['tau_ltp_s'], '.4g')} s = {fmt(d['tau_ltp_cycles'])} "
                 f"cycles ({d['tau_ltp_definition']}), plateau {fmt(d['plateau'], '.4g')}, "
                 f"90 % after {fmt(d['cycles_to_90'])} cycles, RF(1,16)/RF(16,16) = "
                 f"{fmt(d['shape_ratio_16'])}")
    if result.bootstrap is not None and "tau_ltp_s" in result.bootstrap["ci95"]:
        lo, hi = result.bootstrap["ci95"]["tau_ltp_s"]
        lines.append(f"  τ_LTP 95 % bootstrap interval over {result.bootstrap['n_pairs']} pairs:"
                     f" [{lo:.4g}, {hi:.4g}] s")
    lines.append(f"  schedules T = 1..{T}: RF(1, {T}) = {rf[0]:.4g}, RF({T}, {T}) = {rf[-1]:.4g}")
    return "\n".join(lines)


def _run_fit(args: argparse.Namespace) -> None:
    try:
        readout = read_readout(args.readout)
    except ReadoutError as exc:
        raise ReadoutError(f"condition {args.condition!r}: {exc}") from None
    result = distill(
        readout, args.condition, args.max_segments, models=args.models,
        min_saturation=args.min_saturation, warn_saturation=args.warn_saturation,
        min_r2=args.min_r2, strict=args.strict, n_boot=args.bootstrap, seed=args.seed,
    )
    # Everything that can fail comes before the retention JSON, which is written last: a
    # run that stops anywhere leaves no retention file that looks finished.
    payload = result.to_json()
    payload["quantity"] = args.quantity
    validate_retention(payload)  # the contract its readers apply (a bug here, not bad input)
    summary = _summary(result)
    written = []
    if args.plot_dir is not None:
        plot_fit(result, args.plot_dir / "fit.png", args.quantity)
        plot_schedules(result.schedules, args.condition, args.plot_dir / "schedules.png",
                       args.plot_T)
        written += [str(args.plot_dir / "fit.png"), str(args.plot_dir / "schedules.png")]
    atomic_write_json(args.out, payload)
    written.append(str(args.out))
    print(summary)  # the command's answer, on stdout
    log.info("wrote %s", ", ".join(written))
    for message in result.warnings:
        log.warning("%s", message)


def _run_compare(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    if args.readout is not None and len(args.readout) != len(args.retention):
        parser.error(f"compare: {len(args.retention)} --retention files but "
                     f"{len(args.readout)} --readout files; give one readout per retention file")
    payloads = [read_retention(p) for p in args.retention]
    readouts = None if args.readout is None else [read_readout(p) for p in args.readout]
    T = plot_comparison(payloads, args.out, readouts, args.T)
    print(f"compared {', '.join(p['condition'] for p in payloads)} (T = {T})")
    log.info("wrote %s", args.out)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (argparse errors exit with 2 directly)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DistillWarning)  # printed by _run_fit instead
            if args.command == "fit":
                _run_fit(args)
            else:
                _run_compare(args, parser)
    except DistillError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except OSError as exc:  # e.g. an output directory that cannot be written
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
