"""`interp sweep --nproc-per-node K`: each trial a torchrun (DDP, gloo) job, equal to the in-process trial;
pruning stops the job; no trainer outlives its sweep (pruned, or the sweep killed with -9)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch

from tests.cli_helpers import INTERP, run_cli
from tests.integration.test_sweep import _space as sweep_space


def _space(tmp_path: Path, lrs: tuple[float, ...], max_steps: int, eval_every: int, startup: int) -> str:
    return sweep_space(tmp_path, lrs, max_steps, startup, eval_every=eval_every, name="ddp",
                       train_extra="n_layers = 1\npatience = 1000", space_extra="")


def _procs_mentioning(text: str) -> list[tuple[int, str]]:
    """Live processes whose command line contains `text` (zombies have an empty cmdline)."""
    found = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit() and int(d.name) != os.getpid():
            try:
                cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if text in cmd:
                found.append((int(d.name), cmd))
    return found


def _none_left(text: str, within: float = 20.0) -> list[tuple[int, str]]:
    deadline = time.time() + within
    while (left := _procs_mentioning(text)) and time.time() < deadline:
        time.sleep(0.2)
    return left


def test_two_process_trials_match_the_in_process_sweep(tmp_path):
    """torchrun (2 ranks × batch 2) trials report the same val losses as in-process trials (batch 4)."""
    space = _space(tmp_path, lrs=(3e-3, 1e-2), max_steps=6, eval_every=3, startup=4)
    res = {}
    for name, extra in (("single", []), ("ddp", ["--nproc-per-node", "2"])):
        r = run_cli(["sweep", space, "--trials", "2", "--out", str(tmp_path / name), "--json", *extra],
                    cwd=tmp_path, timeout=300)
        assert r.returncode == 0, r.stderr[-3000:]
        res[name] = json.loads(r.stdout)
    one, ddp = res["single"], res["ddp"]
    assert ddp["nproc_per_node"] == 2 and one["nproc_per_node"] is None
    assert [(t["state"], t["params"], t["steps_run"]) for t in ddp["trials"]] == \
        [(t["state"], t["params"], t["steps_run"]) for t in one["trials"]] == \
        [("COMPLETE", {"lr": 3e-3}, 6), ("COMPLETE", {"lr": 1e-2}, 6)]
    for a, b in zip(one["trials"], ddp["trials"], strict=True):
        assert list(a["intermediate"]) == list(b["intermediate"]) == ["3", "6"]
        # the tolerance of tests/integration/test_train.py::test_ddp_two_processes_matches_single
        torch.testing.assert_close(torch.tensor(list(b["intermediate"].values()), dtype=torch.float64),
                                   torch.tensor(list(a["intermediate"].values()), dtype=torch.float64),
                                   atol=1e-4, rtol=0)
        assert b["value"] == pytest.approx(a["value"], abs=1e-4)
    assert ddp["best"]["number"] == one["best"]["number"]
    assert ddp["best"]["config"]["batch_size"] == one["best"]["config"]["batch_size"] == 4  # the global batch
    run = json.loads((tmp_path / "ddp" / "trials" / "trial-0000" / "run.json").read_text())
    assert run["config"]["batch_size"] == 2  # per process
    assert run["distributed"] == {"world_size": 2, "backend": "gloo", "global_batch_size": 4}
    assert (tmp_path / "ddp" / "logs" / "trial-0000.log").is_file()
    assert not _none_left(str(tmp_path / "ddp"), within=5)


def test_a_pruned_torchrun_trial_is_stopped_and_leaves_no_process(tmp_path):
    """Trial 0 (good lr) in-process; trial 1 (lr 1e-6) under torchrun is pruned at its first eval, its job
    stopped long before its 400 steps, the run dir marked pruned, and no process of it is left."""
    space = _space(tmp_path, lrs=(1e-2, 1e-6), max_steps=400, eval_every=20, startup=1)
    out = tmp_path / "sweep"
    r = run_cli(["sweep", space, "--trials", "1", "--out", str(out)], cwd=tmp_path, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    r = run_cli(["sweep", space, "--trials", "2", "--out", str(out), "--nproc-per-node", "2", "--json",
                 "--retrain-best", "--epochs", "1"], cwd=tmp_path, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads(r.stdout)
    t1 = res["trials"][1]
    assert t1["params"] == {"lr": 1e-6} and t1["state"] == "PRUNED" and t1["steps_run"] == 20
    run = out / "trials" / "trial-0001"
    mark = json.loads((run / "pruned.json").read_text())
    assert mark["pruned"] and mark["at_step"] == 20 and mark["val_loss"] == t1["intermediate"]["20"]
    assert 20 <= mark["last_logged_step"] < 400 and not (run / "results.json").exists()  # stopped, not finished
    assert "stopped this torchrun job" in (out / "logs" / "trial-0001.log").read_text()
    assert res["compute"]["steps_run"] == 400 + 20
    assert not _none_left(str(run), within=5), "a trainer of the pruned trial outlived it"
    # --retrain-best with --nproc-per-node: the winner (trial 0, trained in-process) again, as a torchrun job
    assert res["retrained"]["trial"] == 0 and res["best"]["config"]["batch_size"] == 4
    rt = json.loads((out / "best-retrained" / "run.json").read_text())
    assert rt["distributed"]["global_batch_size"] == 4 and rt["config"]["batch_size"] == 2
    assert rt["config"]["max_epochs"] == 1 and rt["config"]["max_steps"] is None and rt["config"]["lr"] == 1e-2


def test_kill_9_of_the_sweep_leaves_no_trainer(tmp_path):
    """kill -9 of the sweep process alone: torchrun (tied to it) stops its workers; nothing survives."""
    space = _space(tmp_path, lrs=(1e-2,), max_steps=100_000, eval_every=50, startup=1)
    out = tmp_path / "sweep"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    p = subprocess.Popen([INTERP, "sweep", space, "--trials", "1", "--out", str(out), "--nproc-per-node", "2"],
                         env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    metrics = out / "trials" / "trial-0000" / "metrics.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and not (metrics.exists() and metrics.stat().st_size):
        time.sleep(0.2)
    assert metrics.exists(), (out / "logs" / "trial-0000.log").read_text()[-2000:]
    workers = [pid for pid, cmd in _procs_mentioning(str(out)) if "-m interp train" in cmd and pid != p.pid]
    assert len(workers) >= 2  # torchrun + its 2 ranks were running
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    left = _none_left(str(out), within=30)
    for pid, _ in left:  # do not leak them into the rest of the test session
        os.kill(pid, signal.SIGKILL)
    assert not left, left
