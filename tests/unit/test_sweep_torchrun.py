"""The torchrun trial plumbing without torch: flags → argv, tailing metrics.jsonl, stopping a process group,
processes tied to their parent (`python -m interp.train.dist PID CMD...`)."""

from __future__ import annotations

import inspect
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from interp.cli.train_cmd import train as train_command
from interp.errors import UserError
from interp.sweep.space import train_flags
from interp.sweep.torchrun import follow, last_logged_step, per_rank_batch, stop, train_argv, trial_command


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie is dead


def _wait_gone(pid: int, within: float = 10.0) -> bool:
    deadline = time.time() + within
    while _alive(pid) and time.time() < deadline:
        time.sleep(0.05)
    return not _alive(pid)


def test_train_argv_maps_from_flags_keywords_to_interp_train_options():
    flags = {"preset": "tiny", "n_layers": 2, "lr": 0.1 + 0.2, "max_steps": None, "compile": False,
             "tokenizer": "char", "weight_decay": 1e-06}
    argv = train_argv(flags)
    assert argv == ["--preset", "tiny", "--n-layers", "2", "--lr", "0.30000000000000004", "--tokenizer", "char",
                    "--weight-decay", "1e-06"]
    assert float(argv[5]) == 0.1 + 0.2  # repr round-trips the float exactly
    assert train_argv({"compile": True}) == ["--compile"]
    options = set(inspect.signature(train_command).parameters)
    assert set(train_flags()) <= options  # every keyword the sweep may pass is an `interp train` option


def test_trial_command_is_torchrun_of_interp_train_tied_to_this_process(tmp_path):
    cmd = trial_command({"preset": "tiny", "batch_size": 2}, tmp_path / "r", 2)
    assert cmd[1:4] == ["-m", "interp.train.dist", str(os.getpid())]
    i = cmd.index("torch.distributed.run")
    assert cmd[i + 1:i + 8] == ["--nproc-per-node=2", "--standalone", "-m", "interp", "train", str(tmp_path / "r"),
                                "--preset"]
    assert cmd[-4:] == ["--batch-size", "2", "--force", "--json"]


def test_per_rank_batch():
    assert per_rank_batch(8, 2) == 4 and per_rank_batch(5, 1) == 5
    with pytest.raises(UserError, match="batch_size 6 is not divisible by --nproc-per-node 4"):
        per_rank_batch(6, 4)


def test_follow_feeds_every_eval_in_order_including_lines_written_in_pieces(tmp_path):
    metrics = tmp_path / "metrics.jsonl"
    recs = [{"step": s, "train_loss": 1.0, **({"val_loss": 3.0 / s, "epoch": s / 10} if s % 2 == 0 else {})}
            for s in range(1, 9)]
    writer = textwrap.dedent(f"""
        import json, sys, time
        recs = json.loads(sys.argv[1])
        with open({str(metrics)!r}, "a") as f:
            for r in recs:
                line = json.dumps(r) + "\\n"
                f.write(line[:7]); f.flush(); time.sleep(0.03)   # half a line is visible for a while
                f.write(line[7:]); f.flush(); time.sleep(0.01)
    """)
    proc = subprocess.Popen([sys.executable, "-c", writer, json.dumps(recs)])
    seen: list[dict] = []
    assert follow(proc, metrics, seen.append, poll=0.01) == 0
    assert seen == [r for r in recs if "val_loss" in r]
    assert last_logged_step(tmp_path) == 8


def test_follow_stops_when_the_callback_raises_and_stop_ends_the_process_group(tmp_path):
    metrics = tmp_path / "metrics.jsonl"
    metrics.write_text(json.dumps({"step": 5, "val_loss": 2.0, "epoch": 0.5}) + "\n")
    # a parent that ignores SIGTERM and a grandchild in the same group: stop() escalates to SIGKILL for both
    script = "import signal, subprocess, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); " \
             "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); time.sleep(60)"
    proc = subprocess.Popen([sys.executable, "-c", script], start_new_session=True)
    time.sleep(0.5)
    kids = [int(p) for p in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()]

    class Pruned(Exception):
        pass

    def on_eval(rec):
        raise Pruned(rec["step"])

    with pytest.raises(Pruned):
        try:
            follow(proc, metrics, on_eval, poll=0.01)
        finally:
            t0 = time.time()
            stop(proc, grace=0.5)
    assert proc.returncode == -signal.SIGKILL and time.time() - t0 < 5
    assert kids and all(_wait_gone(k) for k in kids)


def test_a_tied_process_dies_with_its_parent_even_after_kill_9(tmp_path):
    """P runs `python -m interp.train.dist P_PID sleep 60` (tied: SIGTERM on P's death) and is killed -9."""
    pidfile = tmp_path / "child.pid"
    script = textwrap.dedent(f"""
        import os, subprocess, sys, time
        c = subprocess.Popen([sys.executable, "-m", "interp.train.dist", str(os.getpid()), "/bin/sleep", "60"])
        open({str(pidfile)!r}, "w").write(str(c.pid))
        time.sleep(60)
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], env={**os.environ, "PYTHONPATH": os.getcwd()})
    deadline = time.time() + 20
    while time.time() < deadline and not (pidfile.exists() and pidfile.read_text()):
        time.sleep(0.05)
    child = int(pidfile.read_text())
    deadline = time.time() + 20
    while time.time() < deadline and "sleep" not in Path(f"/proc/{child}/cmdline").read_text(errors="replace"):
        time.sleep(0.05)  # exec'd into sleep: tied from here on
    assert _alive(child)
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    assert _wait_gone(child), "the tied process outlived its parent"


def test_a_tied_process_whose_parent_is_already_gone_exits(tmp_path):
    r = subprocess.run([sys.executable, "-m", "interp.train.dist", "1", "/bin/echo", "ran"], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 1 and "ran" not in r.stdout  # its parent is not pid 1: not run


def test_sweep_config_refuses_bad_nproc():
    from interp.sweep import SweepConfig

    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(UserError, match="--nproc-per-node must be an integer >= 1"):
            SweepConfig(trials=1, nproc_per_node=bad)
    with pytest.raises(UserError, match="neither"):
        SweepConfig(trials=1, nproc_per_node=2, device="mps")
    assert SweepConfig(trials=1, nproc_per_node=1).nproc_per_node == 1
