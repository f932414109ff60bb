#!/usr/bin/env bash
# Visual + structural check of `interp report` output in a real headless browser and as PDF page images.
#
#   scripts/check_report.sh [RESULTS_DIR] [OUT_DIR]
#
# RESULTS_DIR: e.g. the `interp demo` output; default: a REAL tree built from the tiny random fixtures
# (tests/report_tree.py runs every analysis command once). OUT_DIR defaults to /tmp/interp-report-check.
# Needs Debian's `chromium` and `poppler-utils` (apt-get install -y chromium poppler-utils).
# Writes, for a person to LOOK at:
#   OUT_DIR/html-top.png                  chromium screenshot of the first screen of report.html (1400 × 1000):
#                                         the Findings and the first key figure should be visible without scrolling
#   OUT_DIR/html-print-N.png              the whole HTML page as chromium prints it (print-to-pdf, pdftoppm)
#   OUT_DIR/pdf-N.png                     every PDF page (pdftoppm, 70 dpi)
# and fails (exit 1) unless, in the DOM chromium built after running the page's script:
#   every <img> is a data: URI holding a decodable PNG/SVG, no element fetches http(s)://, the
#   interactive attention view was built (so the CSP-pinned inline script ran), no markup was injected
#   (at most one executable <script>), Findings come before the first section, and the PDF has more than
#   one page.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
OUT=$(realpath -m "${2:-/tmp/interp-report-check}")
mkdir -p "$OUT"
if [ -n "${1:-}" ]; then
  RES=$1
else
  rm -rf "$OUT/tiny"
  RES=$("$PY" -m tests.report_tree "$OUT/tiny" 2>/dev/null | tail -1)
fi
BROWSER=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$BROWSER" ]; then echo "chromium not installed: apt-get install -y chromium" >&2; exit 2; fi
command -v pdftoppm >/dev/null || { echo "pdftoppm not installed: apt-get install -y poppler-utils" >&2; exit 2; }

"$PY" -c "import sys; from interp.cli import run; sys.exit(run(sys.argv[1:]))" report "$RES" --out "$OUT/report" --format html,pdf

FLAGS=(--headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update
       --disable-sync --no-first-run --disable-default-apps --hide-scrollbars --user-data-dir="$OUT/.chromium"
       --virtual-time-budget=3000)
URL="file://$OUT/report.html"
timeout 120 "$BROWSER" "${FLAGS[@]}" --window-size=1400,1000 --screenshot="$OUT/html-top.png" "$URL" 2>/dev/null
timeout 120 "$BROWSER" "${FLAGS[@]}" --no-pdf-header-footer --print-to-pdf="$OUT/html-print.pdf" "$URL" 2>/dev/null
timeout 120 "$BROWSER" "${FLAGS[@]}" --dump-dom "$URL" 2>/dev/null > "$OUT/dom.html"
rm -f "$OUT"/pdf-*.png "$OUT"/html-print-*.png
pdftoppm -r 70 -png "$OUT/report.pdf" "$OUT/pdf"
pdftoppm -r 60 -png "$OUT/html-print.pdf" "$OUT/html-print"

"$PY" - "$OUT" <<'PYEOF'
import base64, io, re, sys
from html.parser import HTMLParser
from pathlib import Path

from PIL import Image

out = Path(sys.argv[1])
dom = (out / "dom.html").read_text(encoding="utf-8")
if Image.open(out / "html-top.png").getextrema()[0][0] > 200:  # the first screen is not blank
    sys.exit("PROBLEM: the browser screenshot is blank")


class Scan(HTMLParser):
    def __init__(self):
        super().__init__()
        self.imgs, self.scripts, self.toks, self.fetch = [], [], 0, []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img":
            self.imgs.append(a.get("src") or "")
        if tag == "script":
            self.scripts.append(a.get("type") or "")
        if tag == "span" and "tok" in (a.get("class") or "").split():
            self.toks += 1
        for k in ("src", "href"):
            if re.match(r"\s*(https?:)?//", a.get(k) or ""):
                self.fetch.append(f"<{tag} {k}={a[k]!r}>")


s = Scan()
s.feed(dom)
problems = []
for src in s.imgs:
    m = re.match(r"data:image/(png|svg\+xml);base64,(.*)", src, re.S)
    if not m:
        problems.append(f"image not a data: URI: {src[:60]!r}")
        continue
    raw = base64.b64decode(m.group(2))
    if m.group(1) == "png":
        try:
            Image.open(io.BytesIO(raw)).verify()
        except Exception as e:  # noqa: BLE001
            problems.append(f"broken PNG ({e})")
    elif b"<svg" not in raw[:4096]:
        problems.append("broken SVG")
if s.fetch:
    problems.append("network references: " + ", ".join(s.fetch[:5]))
if 'id="findings"' not in dom or dom.index('id="findings"') > dom.find('<section id="s1-'):
    problems.append("the Findings do not come first")
if s.toks == 0 and 'class="attn-view"' in dom:
    problems.append("interactive attention view not built (inline script blocked or failed)")
code_scripts = [t for t in s.scripts if t != "application/json"]
if len(code_scripts) > 1:
    problems.append(f"{len(code_scripts)} executable <script> elements (expected at most 1: injected markup?)")
pages = sorted(out.glob("pdf-*.png"))
if len(pages) < 2:
    problems.append(f"PDF has {len(pages)} page(s), expected > 1")
print(f"html: {len(s.imgs)} images (all data: URIs), {s.toks} interactive tokens, {len(code_scripts)} script; "
      f"pdf: {len(pages)} pages -> {out}")
for p in problems:
    print("PROBLEM:", p)
sys.exit(1 if problems else 0)
PYEOF
echo "look at: $OUT/html-top.png $OUT/html-print-*.png $OUT/pdf-*.png"
