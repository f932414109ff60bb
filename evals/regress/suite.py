"""Regression suites: TOML → a validated `Suite` (every error names the file, line and key).

    model = "runs/tiny"          # model reference (run dir, checkpoint, HF dir, hub id); the `model` argument overrides
    seed = 0                     # seeds evals that sample and the bootstrap; the `seed` argument overrides
    baseline = "baseline.json"   # relative to the suite file; the `baseline` argument overrides
    adjust = "bh"                # statistical checks: p-values adjusted across the suite's metrics —
                                 # "bh" (Benjamini–Hochberg, default) | "holm" | "none"; the verdict uses them

    [[eval]]
    name = "val-ppl"             # unique; names the JUnit testcase
    kind = "perplexity"          # a registered metric kind (`evals.regress.metrics.KINDS`)
    split = "val"                # the kind's own parameters
    max_tokens = 8192

    [eval.metrics.perplexity]    # the metrics to check (default: the kind's default metrics, statistical)
    direction = "lower"          # lower/higher is better (default: the metric's natural direction)
    tolerance = "statistical"    # "absolute" | "relative" | "statistical"
    confidence = 0.95            # statistical: two-sided confidence of the interval (default 0.95)
    n_boot = 1000                # statistical, bootstrap metrics: resamples (default 1000)
    min_effect = 0.0             # statistical: fail only if also |current − baseline| > this (metric units);
                                 # paired tests see tiny systematic drifts (another CPU/BLAS) — set a floor
    # amount = 0.05              # absolute: metric units; relative: fraction of |baseline|

Nothing here loads a model: a suite is validated completely before any compute.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomllib

from evals.regress.metrics import get_kind
from evals.regress.protocol import EvalKind, MetricSpec
from interp.errors import UserError

DIRECTIONS = ("higher", "lower")
TOLERANCES = ("absolute", "relative", "statistical")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
_TOP_KEYS = ("model", "seed", "baseline", "description", "adjust", "eval")
ADJUST_METHODS = ("bh", "holm", "none")
_EVAL_KEYS = ("name", "kind", "metrics")
_METRIC_KEYS = ("direction", "tolerance", "amount", "confidence", "n_boot", "min_effect")


@dataclass(frozen=True)
class Tolerance:
    kind: str  # absolute | relative | statistical
    amount: float | None = None  # absolute / relative
    confidence: float = 0.95  # statistical
    n_boot: int = 1000  # statistical (bootstrap metrics)
    min_effect: float = 0.0  # statistical: smallest |change| that can fail (practical relevance floor)

    def describe(self, stat: str) -> str:
        if self.kind == "absolute":
            return f"absolute ±{self.amount:g}"
        if self.kind == "relative":
            return f"relative {self.amount * 100:g}%"
        method = "McNemar/Newcombe" if stat == "proportion" else f"bootstrap×{self.n_boot}"
        floor = f", min effect {self.min_effect:g}" if self.min_effect else ""
        return f"statistical {self.confidence * 100:g}% {method}{floor}"


@dataclass(frozen=True)
class MetricCheck:
    metric: str
    direction: str
    stat: str
    tolerance: Tolerance


@dataclass(frozen=True)
class EvalSpec:
    name: str
    kind: str
    params: tuple[tuple[str, Any], ...]  # sorted (key, value), defaults filled in, paths absolute
    metrics: tuple[MetricCheck, ...]
    line: int | None = None
    config_sha256: str = ""

    @property
    def param_dict(self) -> dict[str, Any]:
        return dict(self.params)


@dataclass(frozen=True)
class Suite:
    path: str
    sha256: str
    model: str | None
    seed: int
    baseline: str | None  # as written, resolved against the suite folder by `baseline_path`
    evals: tuple[EvalSpec, ...]
    description: str = ""
    root: str = "."  # the suite's folder: relative paths in the suite are resolved against it
    adjust: str = "bh"  # multiplicity adjustment of the statistical checks' p-values

    @property
    def base_dir(self) -> Path:
        return Path(self.root).resolve()

    def baseline_path(self, override: str | Path | None = None) -> Path:
        """The baseline file: `override`, else the suite's `baseline`, else SUITE.baseline.json beside it."""
        if override is not None:
            return Path(override)
        if self.baseline:
            p = Path(self.baseline).expanduser()
            return p if p.is_absolute() else self.base_dir / p
        return self.base_dir / f"{Path(self.path).stem}.baseline.json"


# ---------------------------------------------------------------------------- TOML line locator
_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\[\]]+?)\s*\]\]?\s*(?:#.*)?$")
_KEYLINE = re.compile(r"""^\s*((?:"[^"]*"|'[^']*'|[A-Za-z0-9_\-]+)(?:\s*\.\s*(?:"[^"]*"|'[^']*'|[A-Za-z0-9_\-]+))*)\s*=""")


def _split_dotted(s: str) -> tuple[str, ...]:
    return tuple(p.strip().strip("\"'") for p in re.findall(r"""(?:"[^"]*"|'[^']*'|[^.]+)""", s))


def _line_index(text: str) -> dict[tuple, int]:
    """Map (table path with array-of-tables indices..., key) → 1-based line, for error messages.
    A line-based scan: good for hand-written suites; an unknown location falls back to the table's line."""
    index: dict[tuple, int] = {}
    counters: dict[tuple[str, ...], int] = {}
    path: tuple = ()
    in_multiline = False
    for i, line in enumerate(text.splitlines(), 1):
        toggles = bool(line.count('"""') % 2 or line.count("'''") % 2)  # opens or closes a multi-line string
        if in_multiline:  # inside a multi-line string value: no keys here
            in_multiline = not toggles
            continue
        in_multiline = toggles  # a `key = """...` line still names its key below
        m = _HEADER.match(line)
        if m:
            parts = _split_dotted(m.group(2))
            if m.group(1) == "[[":
                counters[parts] = counters.get(parts, -1) + 1
                for key in [k for k in counters if len(k) > len(parts) and k[: len(parts)] == parts]:
                    del counters[key]  # nested arrays restart inside a new element
            resolved: list = []
            for j in range(len(parts)):
                resolved.append(parts[j])
                if parts[: j + 1] in counters:
                    resolved.append(counters[parts[: j + 1]])
            path = tuple(resolved)
            index.setdefault(path, i)
            continue
        m = _KEYLINE.match(line)
        if m:
            index.setdefault(path + _split_dotted(m.group(1)), i)
    return index


class _Locator:
    def __init__(self, source: str, text: str) -> None:
        self.source = source
        self.index = _line_index(text)

    def line(self, path: tuple) -> int | None:
        for n in range(len(path), 0, -1):
            if path[:n] in self.index:
                return self.index[path[:n]]
        return None

    def error(self, path: tuple, where: str, msg: str) -> UserError:
        ln = self.line(path)
        loc = f"{self.source}:{ln}" if ln else self.source
        return UserError(f"{loc}: {where}: {msg}")


# ---------------------------------------------------------------------------- hashing
def file_sha256(p: Path) -> str:
    """sha256 of a file's bytes; of a folder: over its files' relative paths and hashes."""
    h = hashlib.sha256()
    if p.is_dir():
        for f in sorted(x for x in p.rglob("*") if x.is_file()):
            h.update(str(f.relative_to(p)).encode() + b"\0" + file_sha256(f).encode())
        return h.hexdigest()
    with open(p, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def config_sha256(kind: EvalKind, params: Mapping[str, Any], seed: int) -> str:
    """Hash of what determines an eval's inputs: kind, parameters, input-file contents, seed if it samples."""
    d: dict[str, Any] = {"kind": kind.name, "params": {}}
    for k, v in sorted(params.items()):
        if kind.params[k].type == "path" and v is not None:
            d["params"][k] = {"sha256": file_sha256(Path(v))}
        else:
            d["params"][k] = v
    if kind.is_seeded(params):
        d["seed"] = seed
    return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()


# ---------------------------------------------------------------------------- parsing
def _type_ok(ptype: str, v: Any) -> bool:
    if ptype in ("str", "path"):
        return isinstance(v, str)
    if ptype == "int":
        return isinstance(v, int) and not isinstance(v, bool)
    if ptype == "float":
        return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    if ptype == "bool":
        return isinstance(v, bool)
    if ptype == "str_list":
        return isinstance(v, list) and all(isinstance(x, str) for x in v)
    raise ValueError(f"unknown param type {ptype!r}")


def _parse_tolerance(loc: _Locator, path: tuple, where: str, spec: MetricSpec, m: dict[str, Any]) -> Tolerance:
    tol = m.get("tolerance", spec.default_tolerance)
    if tol not in TOLERANCES:
        raise loc.error(path + ("tolerance",), where, f"bad tolerance {tol!r}; use one of {', '.join(TOLERANCES)}")
    amount = m.get("amount")
    if tol in ("absolute", "relative"):
        if amount is None:
            raise loc.error(path + ("tolerance",), where,
                            f"tolerance {tol!r} needs `amount = ...` (absolute: metric units; relative: fraction)")
        if not _type_ok("float", amount) or amount < 0:
            raise loc.error(path + ("amount",), where, f"amount must be a finite number >= 0, got {amount!r}")
        for k in ("confidence", "n_boot", "min_effect"):
            if k in m:
                raise loc.error(path + (k,), where, f"`{k}` applies only to tolerance = \"statistical\"")
        return Tolerance(tol, amount=float(amount))
    if amount is not None:
        raise loc.error(path + ("amount",), where,
                        "`amount` applies only to absolute/relative tolerances; statistical uses `confidence`")
    conf = m.get("confidence", 0.95)
    if not _type_ok("float", conf) or not 0.5 <= conf < 1:
        raise loc.error(path + ("confidence",), where, f"confidence must be in [0.5, 1), got {conf!r}")
    n_boot = m.get("n_boot", 1000)
    if not _type_ok("int", n_boot) or not 100 <= n_boot <= 100_000:
        raise loc.error(path + ("n_boot",), where, f"n_boot must be an integer in [100, 100000], got {n_boot!r}")
    if spec.stat == "proportion" and "n_boot" in m:
        raise loc.error(path + ("n_boot",), where, f"metric {spec.name!r} is a proportion (Wilson bound); "
                        "`n_boot` applies only to bootstrap metrics")
    floor = m.get("min_effect", 0.0)
    if not _type_ok("float", floor) or floor < 0:
        raise loc.error(path + ("min_effect",), where, f"min_effect must be a finite number >= 0, got {floor!r}")
    return Tolerance("statistical", confidence=float(conf), n_boot=int(n_boot), min_effect=float(floor))


def _parse_params(loc: _Locator, path: tuple, where: str, kind: EvalKind, e: dict[str, Any],
                  base_dir: Path) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for key, v in e.items():
        if key in _EVAL_KEYS:
            continue
        if key not in kind.params:
            allowed = ", ".join([*_EVAL_KEYS, *kind.params])
            raise loc.error(path + (key,), where, f"unknown key {key!r}; allowed: {allowed}")
        p = kind.params[key]
        if not _type_ok(p.type, v):
            raise loc.error(path + (key,), where, f"`{key}` must be of type {p.type}, got {v!r}")
        if p.type == "path":
            f = Path(v).expanduser()
            f = f if f.is_absolute() else base_dir / f
            if not f.exists():
                raise loc.error(path + (key,), where, f"`{key}` path {str(f)!r} does not exist")
            v = str(f.resolve())
        if p.check is not None and (msg := p.check(v)):
            raise loc.error(path + (key,), where, f"bad `{key}`: {msg}")
        params[key] = float(v) if p.type == "float" else v
    for key, p in kind.params.items():
        if key not in params:
            if p.required:
                raise loc.error(path, where, f"missing required key `{key}` ({p.doc})")
            params[key] = p.default
    return params


def _parse_metrics(loc: _Locator, path: tuple, where: str, kind: EvalKind, e: dict[str, Any]) -> list[MetricCheck]:
    metrics_cfg = e.get("metrics", None)
    if metrics_cfg is None:
        metrics_cfg = {m: {} for m, spec in kind.metrics.items() if spec.default}
    if not isinstance(metrics_cfg, dict) or not metrics_cfg:
        raise loc.error(path + ("metrics",), where, "`metrics` must be a non-empty table of metric tables")
    checks = []
    for mname, m in metrics_cfg.items():
        mpath = path + ("metrics", mname)
        if mname not in kind.metrics:
            raise loc.error(mpath, where, f"unknown metric {mname!r} for kind {kind.name}; "
                            f"choose from: {', '.join(kind.metrics)}")
        if not isinstance(m, dict):
            raise loc.error(mpath, where, f"metric {mname!r} must be a table ([eval.metrics.{mname}])")
        mwhere = f"{where} metric {mname!r}"
        for key in m:
            if key not in _METRIC_KEYS:
                raise loc.error(mpath + (key,), mwhere, f"unknown key {key!r}; allowed: {', '.join(_METRIC_KEYS)}")
        spec = kind.metrics[mname]
        direction = m.get("direction", spec.direction)
        if direction is None:
            raise loc.error(mpath, mwhere, "this metric has no natural direction; set direction = \"higher\" or \"lower\"")
        if direction not in DIRECTIONS:
            raise loc.error(mpath + ("direction",), mwhere, f"bad direction {direction!r}; use \"higher\" or \"lower\"")
        checks.append(MetricCheck(mname, direction, spec.stat, _parse_tolerance(loc, mpath, mwhere, spec, m)))
    return checks


def _parse_eval(loc: _Locator, i: int, e: Any, seed: int, base_dir: Path, names: set[str]) -> EvalSpec:
    path: tuple = ("eval", i)
    where = f"[[eval]] #{i + 1}"
    if not isinstance(e, dict):
        raise loc.error(path, where, "each [[eval]] must be a table")
    name = e.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise loc.error(path + ("name",), where, f"needs `name = \"...\"` (letters, digits, . _ -), got {name!r}")
    where = f"[[eval]] {name!r}"
    if name in names:
        raise loc.error(path + ("name",), where, f"duplicate eval name {name!r}; names must be unique")
    names.add(name)
    try:
        kind = get_kind(e.get("kind"))
    except UserError as err:
        raise loc.error(path + ("kind",), where, str(err)) from None
    where = f"[[eval]] {name!r} (kind {kind.name})"
    params = _parse_params(loc, path, where, kind, e, base_dir)
    checks = _parse_metrics(loc, path, where, kind, e)
    if kind.validate is not None and (msg := kind.validate(params, [c.metric for c in checks])):
        raise loc.error(path, where, msg)
    return EvalSpec(name=name, kind=kind.name, params=tuple(sorted(params.items())), metrics=tuple(checks),
                    line=loc.line(path), config_sha256=config_sha256(kind, params, seed))


def parse_suite(text: str, source: str = "suite.toml", base_dir: str | Path = ".",
                seed_override: int | None = None) -> Suite:
    """Parse and validate a suite (all errors are UserErrors naming the key and line)."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise UserError(f"{source}: invalid TOML: {e}") from None
    loc = _Locator(source, text)
    for key in raw:
        if key not in _TOP_KEYS:
            raise loc.error((key,), "suite", f"unknown top-level key {key!r}; allowed: {', '.join(_TOP_KEYS)}")
    model = raw.get("model")
    if model is not None and (not isinstance(model, str) or not model.strip()):
        raise loc.error(("model",), "suite", f"`model` must be a non-empty string, got {model!r}")
    seed = raw.get("seed", 0)
    if not _type_ok("int", seed) or seed < 0:
        raise loc.error(("seed",), "suite", f"`seed` must be an integer >= 0, got {seed!r}")
    if seed_override is not None:
        if not _type_ok("int", seed_override) or seed_override < 0:
            raise UserError(f"seed must be an integer >= 0, got {seed_override!r}")
        seed = seed_override
    baseline = raw.get("baseline")
    if baseline is not None and (not isinstance(baseline, str) or not baseline.strip()):
        raise loc.error(("baseline",), "suite", f"`baseline` must be a path string, got {baseline!r}")
    desc = raw.get("description", "")
    if not isinstance(desc, str):
        raise loc.error(("description",), "suite", "`description` must be a string")
    adjust = raw.get("adjust", "bh")
    if adjust not in ADJUST_METHODS:
        raise loc.error(("adjust",), "suite", f"`adjust` must be one of {', '.join(ADJUST_METHODS)}, got {adjust!r}")
    evs = raw.get("eval")
    if not isinstance(evs, list) or not evs:
        raise loc.error(("eval",), "suite", "no evals; add at least one [[eval]] table with name and kind")
    names: set[str] = set()
    specs = tuple(_parse_eval(loc, i, e, seed, Path(base_dir), names) for i, e in enumerate(evs))
    return Suite(path=source, sha256=hashlib.sha256(text.encode()).hexdigest(), model=model, seed=seed,
                 baseline=baseline, evals=specs, description=desc, root=str(base_dir), adjust=adjust)


def load_suite(path: str | Path, seed_override: int | None = None) -> Suite:
    """Read and validate a suite file (UserError when it is missing, unreadable or invalid)."""
    p = Path(path)
    if not p.is_file():
        what = "is a directory" if p.is_dir() else "does not exist"
        raise UserError(f"suite file {str(p)!r} {what}; pass a suite .toml (see examples/regress-suite.toml)")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"cannot read suite {str(p)!r}: {e}") from None
    return parse_suite(text, source=str(p), base_dir=p.resolve().parent, seed_override=seed_override)
