"""The ``dt1d`` command: list models, simulate, fit, forecast, evaluate, replay, report, demo.

User mistakes (a missing file, a bad column, an unknown model) print one line
to stderr and exit with status 2 (every :class:`~dt1d.exceptions.Dt1dError`), never a
traceback; any other exception is a bug and shows its traceback; ``--verbose`` adds the
traceback. Input files are never modified; every output is written to a
temporary file and moved into place, so an interrupted run leaves no half file.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from dt1d.exceptions import Dt1dError

__all__ = ["main", "build_parser"]

logger = logging.getLogger("dt1d.cli")

#: Exit status for user errors (bad arguments, files or data).
EXIT_USAGE = 2


class CLIError(Dt1dError):
    """A user error reported as one line."""


# --------------------------------------------------------------------------- helpers
def _atomic_write(path: str | os.PathLike[str], write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary file next to ``path``, then move it into place."""
    from dt1d.data.atomic import atomic_path

    if not Path(path).parent.exists():
        raise CLIError(f"output folder does not exist: {Path(path).parent}")
    with atomic_path(path) as tmp:
        write(tmp)
    return Path(path)


def _write_record(frame: Any, path: str) -> Path:
    """Write a record (or any frame) as CSV, or Parquet when the name ends in .parquet.

    CSV cells a spreadsheet would run as formulas are neutralised (dt1d.data.csv_safety).
    """
    if str(path).endswith(".parquet"):
        return _atomic_write(path, lambda tmp: frame.to_parquet(tmp))
    from dt1d.data.csv_safety import to_csv_safe

    return _atomic_write(path, lambda tmp: to_csv_safe(frame, tmp))


def _read_record(path: str, fmt: str) -> Any:
    """Read a patient record in any format of the reader table (``auto`` detects it)."""
    from dt1d.data import readers

    if not Path(path).exists():
        raise CLIError(f"no such file: {path}")
    return readers.read(path, format=fmt)


def _reader_names() -> list[str]:
    from dt1d.data.readers import list_readers

    return list_readers()


def _parse_params(items: Sequence[str] | None) -> dict[str, Any]:
    """``key=value`` pairs; values parsed as JSON when they can be (numbers, lists, true)."""
    import json

    params: dict[str, Any] = {}
    for item in items or ():
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise CLIError(f"--param expects key=value, got {item!r}")
        try:
            params[key] = json.loads(raw)
        except json.JSONDecodeError:
            params[key] = raw
    return params


def _parse_horizon(text: str) -> int | list[int]:
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise CLIError(f"--horizon expects minutes like 30 or 30,60; got {text!r}") from None
    return values[0] if len(values) == 1 else values


def _progress(total: int | None, desc: str, quiet: bool) -> Any:
    """A tqdm progress bar on stderr (disabled by --quiet or when not a terminal)."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, disable=quiet or not sys.stderr.isatty(), file=sys.stderr)


def _print_table(frame: Any) -> None:
    import pandas as pd

    with pd.option_context("display.width", 120, "display.max_columns", 20, "display.precision", 2):
        print(frame.to_string())


# --------------------------------------------------------------------------- commands
def _cmd_models(args: argparse.Namespace) -> int:
    from dt1d.core.model_registry import list_available_models

    models = list_available_models(args.pattern) if args.pattern else list_available_models()
    if not models:
        print(f"no registered model matches {args.pattern!r}", file=sys.stderr)
        return 1
    width = max(len(n) for n in models)
    for name, qualified in models.items():
        print(f"{name:<{width}}  {qualified}{_tags_suffix(name)}")
    return 0


def _tags_suffix(name: str) -> str:
    """`` [tag, ...]`` of a model (imports its module; model modules never import torch)."""
    from dt1d.core.model_registry import get_model_class

    try:
        tags = sorted(getattr(get_model_class(name), "tags", ()) or ())
    except Exception as exc:  # a broken plugin must not break the listing
        return f"  [unavailable: {type(exc).__name__}]"
    return f"  [{', '.join(tags)}]" if tags else ""


def _cmd_simulate(args: argparse.Namespace) -> int:
    from dt1d import sim

    if bool(args.patient) == bool(args.patients):
        raise CLIError("give exactly one of --patient NAME or --patients PATTERN")
    if args.days <= 0:
        raise CLIError(f"--days must be positive, got {args.days}")
    scenario = None if args.scenario == "none" else args.scenario
    if args.patient:
        record = sim.simulate(sim.virtual_patient(args.patient), scenario, days=args.days, seed=args.seed)
    else:
        import fnmatch

        names = [n for n in sim.list_virtual_patients() if fnmatch.fnmatchcase(n, args.patients)]
        if not names:
            raise CLIError(f"no virtual patient matches {args.patients!r}; see dt1d.sim.list_virtual_patients()")
        record = sim.simulate_cohort(names, scenario, days=args.days, seed=args.seed)
    _write_record(record, args.output)
    logger.info("wrote %d rows to %s", len(record), args.output)
    return 0


def _cmd_fit(args: argparse.Namespace) -> int:
    from dt1d.core.twin import DigitalTwin

    record = _read_record(args.data, args.format)
    try:
        twin = DigitalTwin(args.model, _parse_params(args.param), horizon=_parse_horizon(args.horizon))
    except (TypeError, ValueError) as exc:  # a parameter the model does not take, a bad horizon
        raise CLIError(str(exc)) from None
    import inspect

    epochs = twin.model.get_params().get("epochs")
    takes_callback = "callback" in inspect.signature(twin.model.fit).parameters
    with _progress(epochs if takes_callback else None, f"fitting {args.model}", args.quiet) as bar:
        if takes_callback:  # per-epoch progress (the LSTM)
            twin.fit(record, callback=lambda info: bar.update())
        else:
            twin.fit(record)
            bar.update()
    twin.save(args.output)  # atomic: twin files are written to a temp file, then moved
    logger.info("saved the fitted %s twin to %s", args.model, args.output)
    return 0


def _load_twin(path: str) -> Any:
    from dt1d.core.twin import DigitalTwin

    if not Path(path).exists():
        raise CLIError(f"no such twin file: {path}")
    return DigitalTwin.load(path)


def _cmd_predict(args: argparse.Namespace) -> int:
    import numpy as np
    import pandas as pd

    from dt1d.data import validate

    twin = _load_twin(args.twin)
    record = validate(_read_record(args.data, args.format))
    pred = twin.predict(record)
    horizons = twin.horizons
    cols = {f"glucose_{h}min": (pred if pred.ndim == 1 else pred[:, j]) for j, h in enumerate(horizons)}
    out = pd.DataFrame(cols, index=record.index)
    if "patient_id" in record:
        out.insert(0, "patient_id", record["patient_id"].to_numpy())
    out.insert(0, "glucose", record["glucose"].to_numpy(dtype=float))
    _write_record(out, args.output)
    finite = np.isfinite(pred).all(axis=1) if pred.ndim == 2 else np.isfinite(pred)
    logger.info("wrote %d forecasts (%d finite) to %s", len(out), int(finite.sum()), args.output)
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    twin = _load_twin(args.twin)
    record = _read_record(args.data, args.format)
    table = twin.evaluate(record, horizons=twin.horizons)
    _print_table(table)
    if args.plot:
        from dt1d.data import validate
        from dt1d.plots import plot_forecast

        X = validate(record)
        pred = twin.predict(X)
        first = pred if pred.ndim == 1 else pred[:, 0]
        fig = plot_forecast(X, first, horizon_min=twin.horizons[0], title=f"{twin.model_type} twin")
        _atomic_write(args.plot, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    return 0


def _cmd_replay(args: argparse.Namespace) -> int:
    twin = _load_twin(args.twin)
    record = _read_record(args.data, args.format)
    result = twin.simulate(
        record,
        bolus_scale=args.scale_bolus,
        basal_scale=args.scale_basal,
        meal_shift_min=args.shift_meals,
    )
    _write_record(result, args.output)
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from dt1d.data import validate
    from dt1d.report import agp_report

    record = validate(_read_record(args.data, args.format))
    twin = _load_twin(args.twin) if args.twin else None
    path = agp_report(record, args.output, twin=twin, unit=args.units, format=args.output_format)
    logger.info("wrote the AGP report to %s", path)
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from dt1d._demo import run_demo

    return run_demo(out_dir=Path(args.out_dir), days=args.days, seed=args.seed, quiet=args.quiet)


# --------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``dt1d`` command."""
    from dt1d._version import __version__

    parser = argparse.ArgumentParser(prog="dt1d", description="Type 1 diabetes digital twins.")
    parser.add_argument("--version", action="version", version=f"dt1d {__version__}")
    noise = parser.add_mutually_exclusive_group()
    noise.add_argument("-q", "--quiet", action="store_true", help="only errors")
    noise.add_argument("-v", "--verbose", action="store_true", help="debug logging and tracebacks")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def data_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--data", required=True, help="patient record (any format of: dt1d.data.list_readers())")
        p.add_argument(
            "--format",
            default="auto",
            choices=["auto", *_reader_names()],
            help="input format (default: detect)",
        )

    p = sub.add_parser("models", help="list registered models")
    p.add_argument("pattern", nargs="?", help="fnmatch pattern, e.g. 'lstm*'")
    p.set_defaults(func=_cmd_models)

    p = sub.add_parser("simulate", help="simulate virtual patients (UVA/Padova)")
    p.add_argument("--patient", help="virtual patient, e.g. adult#001")
    p.add_argument("--patients", help="a cohort by pattern, e.g. 'adult#*'")
    p.add_argument("--days", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--scenario", default="random", choices=["random", "none"],
        help="random meals from --seed (default) or no meals",
    )
    p.add_argument("-o", "--output", required=True)
    p.set_defaults(func=_cmd_simulate)

    p = sub.add_parser("fit", help="fit a twin to a record and save it")
    p.add_argument("--model", required=True, help="registered model name (dt1d models)")
    data_args(p)
    p.add_argument("--horizon", default="30", help="minutes, or a list like 30,60")
    p.add_argument("--param", action="append", metavar="KEY=VALUE", help="model parameter (repeatable)")
    p.add_argument("-o", "--output", required=True, help="twin file to write (.dt1d)")
    p.set_defaults(func=_cmd_fit)

    p = sub.add_parser("predict", help="forecast glucose with a saved twin")
    p.add_argument("--twin", required=True)
    data_args(p)
    p.add_argument("-o", "--output", required=True)
    p.set_defaults(func=_cmd_predict)

    p = sub.add_parser("evaluate", help="forecast accuracy of a saved twin on a record")
    p.add_argument("--twin", required=True)
    data_args(p)
    p.add_argument("--plot", help="also write a PNG of forecast vs CGM")
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("replay", help="what-if replay of a record with changed inputs")
    p.add_argument("--twin", required=True)
    data_args(p)
    p.add_argument("--scale-bolus", type=float, default=1.0)
    p.add_argument("--scale-basal", type=float, default=1.0)
    p.add_argument("--shift-meals", type=int, default=0, metavar="MIN", help="move every meal by MIN minutes")
    p.add_argument("-o", "--output", required=True)
    p.set_defaults(func=_cmd_replay)

    p = sub.add_parser("report", help="the consensus AGP report of a record (PDF, PNG or HTML)")
    data_args(p)
    p.add_argument("-o", "--output", required=True, help="report file: .pdf, .png or .html")
    p.add_argument(
        "--output-format", choices=["pdf", "png", "html"],
        help="report format (default: from the output suffix)",
    )
    p.add_argument("--twin", help="a saved twin (.dt1d): adds the twin page")
    p.add_argument("--units", default="mg/dL", choices=["mg/dL", "mmol/L"], help="units shown (default mg/dL)")
    p.set_defaults(func=_cmd_report)

    p = sub.add_parser("demo", help="the main job: simulate, fit twins, evaluate, report")
    p.add_argument("--days", type=int, default=14)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out-dir", default=".", help="where the reports go")
    p.set_defaults(func=_cmd_demo)
    return parser


def _user_errors() -> tuple[type[BaseException], ...]:
    """Errors reported as one line: dt1d's own errors and files that cannot be opened.

    Anything else is a bug in dt1d and shows its traceback.
    """
    return (Dt1dError, FileNotFoundError, IsADirectoryError, PermissionError)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``dt1d`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING if args.quiet else logging.DEBUG if args.verbose else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        return int(args.func(args) or 0)
    except _user_errors() as exc:
        if args.verbose:
            raise
        message = " ".join(line.strip() for line in str(exc).strip().splitlines()) or type(exc).__name__
        print(f"dt1d {args.command}: error: {message}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("dt1d: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
