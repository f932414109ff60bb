"""examples/quickstart.ipynb: stored without outputs, uses only public names, and runs headless end to end."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[2] / "examples" / "quickstart.ipynb"


def _code_cells() -> list[str]:
    nb = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]


def test_notebook_is_stored_without_outputs():
    nb = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [], f"cell {i} has outputs; strip them before committing"
            assert cell.get("execution_count") is None, f"cell {i} has an execution count"


def test_notebook_uses_only_public_names():
    import interp

    src = "\n".join(_code_cells())
    assert not re.search(r"^\s*(from|import)\s+(?!interp\b|pathlib\b)", src, re.M), "imports beyond interp"
    assert not re.search(r"from\s+interp\.|import\s+interp\.", src), "private interp modules imported"
    used = set(re.findall(r"\binterp\.(\w+)", src))
    assert used <= set(interp.__all__), f"not public: {used - set(interp.__all__)}"


def test_quickstart_notebook_executes(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    nb = nbformat.read(str(NOTEBOOK), as_version=4)
    env = {"OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the kernel inherits the environment
    try:
        client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                         resources={"metadata": {"path": str(tmp_path)}})
        client.execute()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    out = tmp_path / "results" / "quickstart"
    for stage in ("attention", "ablation", "coref"):
        assert (out / stage / "results.json").exists(), stage
    assert list(out.glob("attention/*.png")) and (out / "report.html").exists()
    texts = [o.get("text", "") + json.dumps(o.get("data", {})) for c in nb.cells if c.cell_type == "code"
             for o in c.outputs]
    assert any("interp-result" in t for t in texts), "no result rendered its HTML summary"
    assert any("error: " in t for t in texts), "the UserError cell printed nothing"
