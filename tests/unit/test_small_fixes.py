"""Small usability fixes: a short repr for results, grouped hook names in `interp info`, quoted stage commands."""

from __future__ import annotations

import shlex


def test_result_repr_is_short_and_names_the_scalars():
    from evals.sensitivity import SensitivityResult
    from interp.patching.api import PatchResult

    big = {"heads": {"exact": {"fraction": [[0.123456789] * 200] * 50}}}
    r = PatchResult(model="runs/small", metric="logit-diff", n_pairs=3, gap=0.1234567, components=big)
    text = repr(r)
    assert len(text) < 300 and text.startswith("PatchResult(kind='patching', model='runs/small'")
    assert "gap" not in text or "0.1235" in text
    assert "(.to_dict())" in text and len(str(r.to_dict())) > 10_000
    assert repr(SensitivityResult()).startswith("SensitivityResult(kind='prompt_sensitivity'")


def test_hook_lines_grouped_and_wrapped():
    from interp.cli.model_cmds import hook_lines

    names = ["hook_embed", "ln_final.hook_normalized", "ln_final.hook_scale"] + [
        f"blocks.{{L}}.attn.hook_{x}" for x in ("q", "k", "v", "z", "pattern", "attn_scores", "result", "q_input",
                                                "k_input", "v_input", "hidden_states", "attn_in")]
    lines = hook_lines(names, width=60)
    assert lines[0] == "    (top): hook_embed" and lines[1] == "    ln_final: hook_normalized, hook_scale"
    assert all(len(x) <= 60 for x in lines) and sum("blocks.{L}.attn:" in x for x in lines) == 1
    assert sum(x.count("hook_") for x in lines) == len(names)


def test_demo_announces_commands_quoted(tmp_path):
    from interp.demo import PROMPT, DemoConfig, run_demo

    seen: list[str] = []
    run_demo(DemoConfig(out=tmp_path / "d", gemma=False), runner=lambda argv: 0, announce=seen.append)
    line = next(s for s in seen if ": interp attention " in s)
    argv = shlex.split(line.split(": interp ", 1)[1])  # what a user copies from the log, through a shell
    assert argv[argv.index("--prompt") + 1] == PROMPT
