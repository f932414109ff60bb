"""`interp eval trimmed` bad inputs through the installed console script: one line, exit 2, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_helpers import assert_user_error, run_cli, snapshot_tree

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "classification"
SST2 = ["--no-header", "--text-column", "1", "--label-column", "0", "--label-map", "0=cat,1=ball",
        "--template", "Review: {text}\\nSentiment:"]
DEV = str(FIX / "sst2_like" / "dev.tsv")
TRAIN = str(FIX / "sst2_like" / "train.tsv")


def _write(path: Path, rows: list[tuple[str, str]]) -> str:
    path.write_text("".join(f"{lab}\t{text}\n" for lab, text in rows), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("case, contains", [
    ("fit_head_too_big", "is more than the"),
    ("overlap", "2 of 10 train rows"),
    ("train_label_not_in_labels", "label(s) '2' that are not in --labels"),
    ("bad_fit_head", "--fit-head 'x'"),
    ("nan_weight_decay", "--fit-weight-decay"),
    ("unknown_dataset", "unknown dataset 'imdb'"),
])
def test_bad_input_one_line_exit_2_nothing_written(case, contains, tiny_gpt2_dir, tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    out = ws / "out"
    train_rows = [ln.split("\t", 1) for ln in Path(TRAIN).read_text().splitlines()]
    dev_rows = [ln.split("\t", 1) for ln in Path(DEV).read_text().splitlines()]
    base = ["eval", "trimmed", str(tiny_gpt2_dir), "--out", str(out)]
    args = {
        "fit_head_too_big": ["--dataset", DEV, "--train-file", TRAIN, *SST2, "--fit-head", "50"],
        "overlap": ["--dataset", DEV, "--train-file", _write(tmp_path / "leak.tsv", [
            (lab, text) for lab, text in train_rows] + [(dev_rows[0][0], dev_rows[0][1].upper()),
                                                        (dev_rows[1][0], dev_rows[1][1] + " !")]),
                    *SST2, "--fit-head", "1"],
        "train_label_not_in_labels": ["--dataset", DEV, "--train-file", _write(tmp_path / "three.tsv", [
            (lab, text) for lab, text in train_rows] + [("2", "an unseen third kind of row .")]),
            "--no-header", "--text-column", "1", "--label-column", "0", "--labels", "0,1", "--fit-head", "1"],
        "bad_fit_head": ["--dataset", DEV, "--train-file", TRAIN, *SST2, "--fit-head", "x"],
        "nan_weight_decay": ["--dataset", DEV, "--train-file", TRAIN, *SST2, "--fit-head", "1",
                             "--fit-weight-decay", "nan"],
        "unknown_dataset": ["--dataset", "imdb"],
    }[case]
    before = snapshot_tree(ws)
    r = run_cli(base + args, cwd=ws, env={"INTERP_CACHE": str(tmp_path / "cache")})
    assert_user_error(r, contains)
    assert snapshot_tree(ws) == before and not (tmp_path / "cache").exists()


def test_vader_offline_is_one_line(tmp_path):
    r = run_cli(["eval", "trimmed", "unused-model-ref", "--dataset", "vader-amazon"], cwd=tmp_path,
                env={"INTERP_CACHE": str(tmp_path / "cache"), "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(tmp_path)})
    assert_user_error(r, "could not download the vaderSentiment==3.3.2 sdist with pip")
