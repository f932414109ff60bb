"""Model-reference errors name the real cause (issue 8 §1/§4): config, pickles, tokenizer files, run layout."""

from __future__ import annotations

import json
import shutil

import pytest

from interp import hooked
from interp.errors import UserError
from tests.cli_helpers import assert_user_error, run_cli


@pytest.fixture
def model_copy(tiny_gpt2_dir, tmp_path):
    d = tmp_path / "model"
    shutil.copytree(tiny_gpt2_dir, d)
    return d


def test_invalid_config_json_is_reported_as_such(model_copy):
    (model_copy / "config.json").write_text("{not json")
    with pytest.raises(UserError, match=r"config.json is not valid JSON") as e:
        hooked.load_hf(str(model_copy))
    assert "tokenizer" not in str(e.value)


def test_config_without_known_model_type(model_copy):
    (model_copy / "config.json").write_text(json.dumps({"model_type": "no-such-arch"}))
    with pytest.raises(UserError, match="model_type 'no-such-arch' is unknown"):
        hooked.load_hf(str(model_copy))
    (model_copy / "config.json").write_text("[]")
    with pytest.raises(UserError, match="no \"model_type\""):
        hooked.load_hf(str(model_copy))


def test_pickle_only_dir_with_another_safetensors_file(model_copy):
    (model_copy / "model.safetensors").rename(model_copy / "pytorch_model.bin")
    shutil.copy(model_copy / "pytorch_model.bin", model_copy / "optimizer.safetensors")
    with pytest.raises(UserError, match="only pickled weights"):
        hooked.load_hf(str(model_copy))


def test_checkpoint_without_tokenizer_files(model_copy, tmp_path):
    for f in model_copy.iterdir():
        if f.name.startswith("tokenizer") or f.name in ("vocab.json", "merges.txt", "special_tokens_map.json"):
            f.unlink()
    with pytest.raises(UserError, match="no tokenizer files"):
        hooked.load_hf(str(model_copy))
    r = run_cli(["generate", str(model_copy), "hello", "-n", "3"], cwd=tmp_path)
    assert_user_error(r, "no tokenizer files")


def test_run_metadata_only_for_the_documented_run_layout(tiny_gpt2_dir, tmp_path):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "run.json").write_text(json.dumps({"marker": 1}))
    shutil.copytree(tiny_gpt2_dir, run / "checkpoints" / "best")
    shutil.copytree(tiny_gpt2_dir, run / "exports" / "mine")  # a model saved elsewhere inside the run
    assert hooked.run_metadata(str(run)) == {"marker": 1}
    assert hooked.run_metadata(str(run / "checkpoints" / "best")) == {"marker": 1}
    assert hooked.run_metadata(str(run / "exports" / "mine")) is None
    assert hooked.run_metadata(str(tiny_gpt2_dir)) is None


def test_a_non_gguf_file_is_refused(tmp_path):
    f = tmp_path / "weights.bin"
    f.write_bytes(b"x")
    with pytest.raises(UserError, match="is a file; pass a .gguf file"):
        hooked.resolve(str(f))
