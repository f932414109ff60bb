"""Reports: a results tree → one self-contained HTML file and a multi-page PDF (`interp report`).

    collect.py    read RESULTS_DIR: results.json per stage, a training run's run.json + metrics.jsonl, figures
    sections.py   registry: result kind → tailored section (tables, figures, reading guide with chance level)
    generic.py    fallback rendering of any results JSON (and of the keys a tailored section did not use)
    document.py   the format-neutral document model (Section, Table, Figure, Paragraph, Preformatted)
    charts.py     the few matplotlib charts drawn from results data when a stage saved no figure
    html.py       one HTML file: inline CSS, data: URI images, CSP, interactive attention view, all text escaped
    pdf.py        PdfPages: title page with metadata + contents, then every section
    build.py      make_report(): the pure entry point the CLI calls
    sample.py     a synthetic results tree of every kind (tests, scripts/check_report.sh)

Nothing here loads a model or imports torch.
"""
