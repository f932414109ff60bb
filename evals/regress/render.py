"""Rendering a regress result (from its dict only): a terminal table, Markdown, JUnit XML.

JUnit: one <testcase> per checked metric, so CI systems (GitHub, GitLab, Jenkins) show regressions as
failed tests. A failure's message names the metric, the baseline, the current value and the bound; its
body has the details (tolerance, n, interval).

    <testsuites name="interp regress" tests="3" failures="1" errors="0">
      <testsuite name="interp regress: suite.toml" tests="3" failures="1" ...>
        <properties> model, baseline, suite sha256 ... </properties>
        <testcase classname="regress.val-ppl" name="perplexity" time="0.41">
          <failure type="regression" message="val-ppl/perplexity regressed: ...">...</failure>
        </testcase>
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any, TextIO

COLUMNS = ("eval", "metric", "better", "baseline", "current", "bound", "p (adj.)", "MDE", "pairing", "tolerance",
           "result")


def fmt(x: float | None) -> str:
    """A metric value for tables: 4 significant digits, — for missing/non-finite."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "—"
    return f"{x:.4g}"


def _num(x: Any) -> str:
    return "n/a" if x is None else f"{x:.6g}"


def _p(c: Mapping[str, Any]) -> str:
    """'raw (adjusted)' p-values of a statistical check, — otherwise."""
    if c.get("p_value") is None:
        return "—"
    return f"{c['p_value']:.3g} ({c['p_adjusted']:.3g})"


def _stat_cells(c: Mapping[str, Any]) -> tuple[str, str, str]:
    return _p(c), fmt(c.get("mde")), c.get("pairing") or "—"


def _arrow(direction: str) -> str:
    return "↑" if direction == "higher" else "↓"


def headline(result: Mapping[str, Any]) -> str:
    if result.get("mode") == "update-baseline":
        return f"baseline written: {result['baseline']}"
    if result["passed"]:
        return f"all {result['n_checks']} metrics within bounds"
    return f"{result['n_failed']} of {result['n_checks']} metrics regressed"


def print_table(result: Mapping[str, Any], file: TextIO) -> None:
    """The checks as a rich table on `file`, then each failure's message and the headline."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    t = Table(title=f"interp regress — {escape(result['suite'])}", title_justify="left")
    for col in COLUMNS:
        t.add_column(col, justify="left" if col in ("eval", "metric", "tolerance") else "right")
    for c in result["checks"]:
        t.add_row(escape(c["eval"]), c["metric"], _arrow(c["direction"]), fmt(c["baseline"]), fmt(c["current"]),
                  fmt(c["bound"]), *_stat_cells(c), c["tolerance"], "[green]pass[/green]" if c["passed"] else "[bold red]FAIL[/bold red]")
    con = Console(file=file, width=max(132, Console().width))
    con.print(t)
    for c in result["checks"]:
        if not c["passed"]:
            con.print(f"[red]✗[/red] {escape(c['message'])}", highlight=False)
    style = "green" if result["passed"] or result.get("mode") == "update-baseline" else "bold red"
    con.print(f"[{style}]{escape(headline(result))}[/{style}]", highlight=False)


def to_markdown(result: Mapping[str, Any]) -> str:
    """A Markdown summary (for $GITHUB_STEP_SUMMARY / PR comments) from the results dict."""
    checks = result["checks"]
    icon = "📌" if result.get("mode") == "update-baseline" else ("✅" if result["passed"] else "❌")
    lines = [
        "## interp regress",
        "",
        f"**{icon} {headline(result)}** — suite `{result['suite']}`, model `{result['model']}`, "
        f"baseline `{result['baseline']}`",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    for c in checks:
        status = "pass" if c["passed"] else "**FAIL**"
        lines.append(f"| {c['eval']} | {c['metric']} | {_arrow(c['direction'])} | {fmt(c['baseline'])} | "
                     f"{fmt(c['current'])} | {fmt(c['bound'])} | {' | '.join(_stat_cells(c))} | {c['tolerance']} | "
                     f"{status} |")
    if any(c.get("p_value") is not None for c in checks):
        lines += ["", f"p: two-sided, raw (adjusted across the suite's statistical checks: {result.get('adjust', 'bh')}); "
                  "the verdict uses the adjusted p. MDE: the smallest change this suite detects with 80% power — "
                  "a smaller drop passes unseen."]
    failed = [c for c in checks if not c["passed"]]
    if failed:
        lines += ["", "### Regressions", ""] + [f"- {c['message']}" for c in failed]
    lines += changed_markdown(checks)
    return "\n".join(lines) + "\n"


def changed_markdown(checks: Any) -> list[str]:
    """'### Changed items': per paired check, the flipped items / the items whose value moved most."""
    out: list[str] = []
    for c in checks:
        ch = c.get("changed")
        if not ch:
            continue
        name = f"{c['eval']}/{c['metric']}"
        if "n_to_wrong" in ch:
            if ch["n_to_wrong"] or ch["n_to_right"]:
                out.append(f"- **{name}**: {ch['n_to_wrong']} right → wrong"
                           + (f" ({', '.join(f'`{i}`' for i in ch['to_wrong'])}"
                              + (", …" if ch["n_to_wrong"] > len(ch["to_wrong"]) else "") + ")" if ch["to_wrong"] else "")
                           + f"; {ch['n_to_right']} wrong → right"
                           + (f" ({', '.join(f'`{i}`' for i in ch['to_right'])}"
                              + (", …" if ch["n_to_right"] > len(ch["to_right"]) else "") + ")" if ch["to_right"] else ""))
        elif ch.get("moved_most"):
            moved = ", ".join(f"`{m['item']}` {fmt(m['baseline'])} → {fmt(m['current'])} ({m['delta']:+.3g})"
                              for m in ch["moved_most"])
            out.append(f"- **{name}**: {ch['n_changed']} items changed; moved most: {moved}")
    return ["", "### Changed items", "", "Item ids: the first 12 hex digits of sha256 of the normalised item text / "
            "window (same id in baseline and candidate).", "", *out] if out else []


def to_junit_xml(result: Mapping[str, Any], times: Mapping[str, float] | None = None) -> str:
    """JUnit XML text from a RegressResult dict (`times`: seconds per eval, shared by its testcases)."""
    times = times or {}
    checks = result["checks"]
    n_fail = sum(not c["passed"] for c in checks)
    total_time = sum(times.values())
    root = ET.Element("testsuites", name="interp regress", tests=str(len(checks)), failures=str(n_fail),
                      errors="0", time=f"{total_time:.3f}")
    suite = ET.SubElement(root, "testsuite", name=f"interp regress: {result['suite']}", tests=str(len(checks)),
                          failures=str(n_fail), errors="0", skipped="0", time=f"{total_time:.3f}")
    props = ET.SubElement(suite, "properties")
    for key in ("model", "model_sha256", "baseline", "baseline_model", "suite_sha256", "seed", "mode"):
        if result.get(key) is not None:
            ET.SubElement(props, "property", name=key, value=str(result[key]))
    per_eval: dict[str, int] = {}
    for c in checks:
        per_eval[c["eval"]] = per_eval.get(c["eval"], 0) + 1
    for c in checks:
        t = times.get(c["eval"], 0.0) / per_eval[c["eval"]]
        case = ET.SubElement(suite, "testcase", classname=f"regress.{c['eval']}", name=c["metric"], time=f"{t:.3f}")
        if c.get("p_value") is not None:
            cp = ET.SubElement(case, "properties")
            for key in ("pairing", "test", "p_value", "p_adjusted", "adjust", "mde"):
                ET.SubElement(cp, "property", name=key, value=str(c.get(key)))
        if not c["passed"]:
            body = "\n".join([
                c["message"],
                f"metric:    {c['eval']}/{c['metric']} ({c['direction']} is better)",
                f"baseline:  {_num(c['baseline'])} (n={c['n_baseline']})",
                f"current:   {_num(c['current'])} (n={c['n_current']})",
                f"bound:     {_num(c['bound'])}",
                f"tolerance: {c['tolerance']}",
                *([f"interval of current − baseline: [{_num(c['interval'][0])}, {_num(c['interval'][1])}]"]
                  if c.get("interval") else []),
                *([f"test:      {c['test']} — {c['pairing_note']}",
                   f"p:         {_num(c['p_value'])} raw, {_num(c['p_adjusted'])} adjusted ({c.get('adjust')})",
                   f"MDE:       {_num(c['mde'])} (smallest change seen with 80% power)"]
                  if c.get("p_value") is not None else []),
            ])
            fail = ET.SubElement(case, "failure", type="regression", message=c["message"])
            fail.text = body
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
