"""Progress where nobody watches a terminal: plain lines with rate and ETA (interp.progress), from the CLI and the
Python API alike; a tqdm bar on a terminal; nothing with disable=True."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

from interp.progress import LineProgress, progress_bar


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_lines_with_rate_and_eta_when_not_a_terminal():
    f = io.StringIO()
    bar = progress_bar(total=4, desc="work", unit="step", file=f)
    assert isinstance(bar, LineProgress)
    bar.every = 0.0  # a line per update
    for _ in range(4):
        bar.update(1)
    bar.set_postfix(loss="1.234")
    bar.close()
    lines = f.getvalue().splitlines()
    assert lines[0].startswith("work: 1/4 step (25.0%) · ") and "step/s" in lines[0] and "ETA" in lines[0]
    assert lines[-1].startswith("work: 4/4 step (100.0%)") and "done" in lines[-1] and "loss=1.234" in lines[-1]
    assert "\r" not in f.getvalue()


def test_lines_are_rate_limited_and_iteration_works():
    f = io.StringIO()
    out = list(progress_bar(range(1000), desc="it", file=f, every=3600.0))
    assert out == list(range(1000))
    lines = f.getvalue().splitlines()
    assert len(lines) == 2 and lines[0].startswith("it: 1/1000") and lines[1].startswith("it: 1000/1000")


def test_tty_gets_tqdm_and_disable_true_gets_nothing():
    from tqdm import tqdm

    assert isinstance(progress_bar(total=3, file=_Tty()), tqdm)
    f = io.StringIO()
    with progress_bar(total=3, file=f, disable=True) as bar:
        bar.update(3)
    assert f.getvalue() == ""


def test_python_api_training_logs_progress_lines_to_a_redirected_stderr(tmp_path, toy_tokenizer):
    """The README's Python snippet, stderr to a file: training prints step lines with rate and ETA."""
    from tests.conftest import TOY_TEXT

    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TOY_TEXT * 3, encoding="utf-8")
    code = (f"import interp; interp.train({str(tmp_path / 'run')!r}, preset='tiny', corpus={str(corpus)!r}, "
            "vocab_size=300, max_steps=6, epochs=1, eval_tokens=512, warmup_steps=1)")
    env = {**os.environ, "INTERP_PROGRESS_SECONDS": "0", "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
           "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    with open(tmp_path / "err.log", "w") as err:
        r = subprocess.run([sys.executable, "-c", code], stderr=err, stdout=subprocess.DEVNULL, env=env, timeout=300)
    log = (tmp_path / "err.log").read_text()
    assert r.returncode == 0, log[-2000:]
    steps = [ln for ln in log.splitlines() if ln.startswith("train: ")]
    assert len(steps) >= 6 and "step/s" in steps[1] and "ETA" in steps[1] and "done" in steps[-1]
