"""What an analysis unit builds its report section and regress metric from — torch-free, below reports.

    document   the report's blocks (Finding, Table, Chart, Paragraph, Figure) and number formatting
    charts     chart drawing from plain lists (matplotlib, imported lazily)
    stage      `Stage`: one results.json (+ its figures, a training run's run.json/metrics) as reports see it
    section    `SectionSpec` / `Built` and the shared verdict rules (`verdict_vs`, `ci_text`, ...)
    regress    `EvalKind` / `MetricSpec` / `Param`: the protocol of an `interp regress` metric kind
"""
