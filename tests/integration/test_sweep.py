"""`interp sweep` through the console script: grid resume after kill -9, two processes sharing one study, pruning."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time

import pytest

from tests.cli_helpers import INTERP, run_cli

WORDS = "the king said that he would go to the sea and the queen said no one will follow".split()


def _space(tmp_path, lrs=(3e-3, 1e-2), max_steps=12, startup=4, *, eval_every: int = 3, name: str = "grid",
           train_extra: str = "", space_extra: str = "n_layers = [1, 2]") -> str:
    """A search-space file over a tiny char-level corpus (also used by test_sweep_torchrun.py)."""
    corpus = tmp_path / "corpus"
    corpus.mkdir(exist_ok=True)
    rng = random.Random(0)
    for i in range(6):
        (corpus / f"d{i}.txt").write_text(" ".join(rng.choice(WORDS) for _ in range(400)))
    (tmp_path / "space.toml").write_text(f"""
[sweep]
name = "{name}"
order = "given"
prune_startup_trials = {startup}
[train]
preset = "tiny"
corpus = "{corpus}"
tokenizer = "char"
n_ctx = 16
d_model = 32
n_heads = 2
batch_size = 4
max_steps = {max_steps}
eval_every = {eval_every}
warmup_steps = 1
eval_tokens = 128
val_frac = 0.2
test_frac = 0.2
{train_extra}
[space]
lr = [{", ".join(map(str, lrs))}]
{space_extra}
""")
    return str(tmp_path / "space.toml")


def _env():
    return {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}


def _finished(out) -> list[dict]:
    res = json.loads((out / "results.json").read_text())
    return [t for t in res["trials"] if t["state"] in ("COMPLETE", "PRUNED")]


def test_grid_resumes_after_kill_9_without_rerunning_finished_trials(tmp_path):
    space, out = _space(tmp_path, max_steps=30), tmp_path / "sweep"
    p = subprocess.Popen([INTERP, "sweep", space, "--trials", "4", "--out", str(out)], env=_env(),
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 240
    while time.time() < deadline and len(list(out.glob("trials/*/results.json"))) < 2:
        time.sleep(0.2)
    os.killpg(p.pid, signal.SIGKILL)
    p.wait()
    done_before = {f.parent.name: f.stat().st_mtime_ns for f in out.glob("trials/*/results.json")}
    assert 2 <= len(done_before) < 4
    r = run_cli(["sweep", space, "--trials", "4", "--out", str(out)], cwd=tmp_path, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    for name, mtime in done_before.items():  # finished trials were not re-run
        assert (out / "trials" / name / "results.json").stat().st_mtime_ns == mtime, name
    fin = _finished(out)
    assert len(fin) == 4
    assert sorted((t["params"]["lr"], t["params"]["n_layers"]) for t in fin) == [
        (3e-3, 1), (3e-3, 2), (1e-2, 1), (1e-2, 2)]


def test_two_processes_share_one_sqlite_study_without_duplicates(tmp_path):
    space, out = _space(tmp_path), tmp_path / "sweep"
    cmd = [INTERP, "sweep", space, "--trials", "4", "--out", str(out)]
    procs = [subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-1500:] for o in outs]
    fin = _finished(out)
    points = [(t["params"]["lr"], t["params"]["n_layers"]) for t in fin]
    assert len(points) == 4 and len(set(points)) == 4
    ran = [ln for o in outs for ln in o[1].splitlines() if ln.startswith("trial ") and ": {" in ln]
    assert len(ran) == 4  # each grid point trained once, across both processes


def test_median_pruner_stops_a_bad_trial_and_counts_saved_steps(tmp_path):
    space, out = _space(tmp_path, lrs=(1e-2, 1e-6), max_steps=12, startup=1), tmp_path / "sweep"
    r = run_cli(["sweep", space, "--trials", "4", "--out", str(out), "--json"], cwd=tmp_path, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads(r.stdout)
    states = {(t["params"]["lr"], t["params"]["n_layers"]): t["state"] for t in res["trials"]}
    assert states[(1e-6, 1)] == "PRUNED" and states[(1e-6, 2)] == "PRUNED"
    c = res["compute"]
    pruned = [t for t in res["trials"] if t["state"] == "PRUNED"]
    assert c["steps_without_pruning"] == 48 and c["trials_pruned"] == len(pruned) >= 2
    assert c["steps_run"] == 48 - sum(12 - t["steps_run"] for t in pruned) < 48
    assert res["best"]["params"]["lr"] == 1e-2 and res["sampler"] == "GridSampler"
    assert (out / "sweep_parallel.png").is_file() and (out / "sweep_importance.png").is_file()
    rerun = run_cli(["sweep", space, "--trials", "4", "--out", str(out), "--json"], cwd=tmp_path, timeout=600)
    assert json.loads(rerun.stdout) == res  # a finished sweep: nothing re-run, same results JSON


@pytest.mark.parametrize("flag", ["--retrain-best"])
def test_retrain_best(tmp_path, flag):
    space, out = _space(tmp_path, max_steps=6), tmp_path / "sweep"
    r = run_cli(["sweep", space, "--trials", "2", "--out", str(out), flag, "--epochs", "1", "--json"], cwd=tmp_path,
                timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads(r.stdout)
    assert res["retrained"]["trial"] == res["best"]["number"]
    run = json.loads((out / "best-retrained" / "run.json").read_text())
    assert run["config"]["max_epochs"] == 1 and run["config"]["max_steps"] is None
    assert run["config"]["lr"] == res["best"]["params"]["lr"]


def test_sweep_report_section_and_overlaid_curves(tmp_path):
    from interp.train.curves import training_curves
    from reports.build import build_report

    space, out = _space(tmp_path, max_steps=6), tmp_path / "sweep"
    r = run_cli(["sweep", space, "--trials", "2", "--out", str(out)], cwd=tmp_path, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    rep = build_report(out)
    (sec,) = [s for s in rep.sections if s.kind == "sweep"]
    assert sec.tailored and "trial" in sec.findings[0].value
    curves = training_curves(out).to_dict()  # a sweep dir: one line per trial
    assert [c["label"] for c in curves["runs"]] == ["trial-0000", "trial-0001"]


def test_a_range_uses_tpe_and_is_deterministic(tmp_path):
    space = _space(tmp_path, max_steps=4)
    text = open(space).read().replace("lr = [0.003, 0.01]", "lr = {low = 1e-3, high = 1e-2, log = true}")
    open(space, "w").write(text)
    res = []
    for out in ("a", "b"):
        r = run_cli(["sweep", space, "--trials", "3", "--out", str(tmp_path / out), "--json", "--seed", "5"],
                    cwd=tmp_path, timeout=600)
        assert r.returncode == 0, r.stderr[-2000:]
        res.append(json.loads(r.stdout))
    assert res[0]["sampler"] == "TPESampler" and len(res[0]["trials"]) == 3
    assert all(1e-3 <= t["params"]["lr"] <= 1e-2 for t in res[0]["trials"])
    strip = [[{k: v for k, v in t.items() if k != "run_dir"} for t in r["trials"]] for r in res]
    assert strip[0] == strip[1]  # same space + seed → same trials and values
