"""CI regression evals (`interp regress`): a TOML suite of evals, a stored baseline, a per-metric bound.

    suite.py     TOML parsing + validation (errors name file, line, key)
    protocol.py  the metric-kind protocol: EvalKind, Param, MetricSpec, MetricValue, EvalContext
    metrics/     one module per metric kind behind a lazy registry (`metrics.KINDS`: kind → "module:object")
    baseline.py  the baseline document: make, read, check against a suite
    compare.py   tolerances → one Check per metric (Wilson/Newcombe, seeded bootstrap, fixed), RegressResult
    render.py    terminal table, Markdown, JUnit XML (from the result dict only)
    run.py       `regress(suite, baseline=None, ...)`: the function the CLI calls

The public function is `evals.regress.regress` (= `evals.regress.run:regress`).
"""

from __future__ import annotations

from evals.regress.baseline import BASELINE_KIND, check_baseline, make_baseline, model_sha256, read_baseline
from evals.regress.compare import Check, RegressResult, build_result, compare, compare_metric
from evals.regress.metrics import KINDS, describe_kinds, get_kind, kind_names
from evals.regress.protocol import (
    EvalContext,
    EvalKind,
    MetricSpec,
    MetricValue,
    Param,
    mean_of,
    proportion,
)
from evals.regress.render import fmt, print_table, to_junit_xml, to_markdown
from evals.regress.run import evaluate, regress
from evals.regress.suite import (
    DIRECTIONS,
    TOLERANCES,
    EvalSpec,
    MetricCheck,
    Suite,
    Tolerance,
    config_sha256,
    load_suite,
    parse_suite,
)

__all__ = [
    "BASELINE_KIND", "DIRECTIONS", "KINDS", "TOLERANCES", "Check", "EvalContext", "EvalKind", "EvalSpec",
    "MetricCheck", "MetricSpec", "MetricValue", "Param", "RegressResult", "Suite", "Tolerance", "build_result",
    "check_baseline", "compare", "compare_metric", "config_sha256", "describe_kinds", "evaluate", "fmt",
    "get_kind", "kind_names", "load_suite", "make_baseline", "mean_of", "model_sha256", "parse_suite",
    "print_table", "proportion", "read_baseline", "regress", "to_junit_xml", "to_markdown",
]
