"""Hyperparameter search on Optuna (`interp sweep SPACE.toml --trials N`).

Modules: `space` (SPACE.toml → SweepSpec) · `run` (the study, trials as run dirs, resume/share) ·
`result` (SweepResult: trials table, best config, importance, pruning's saved compute) · `plots` (figures
from the results dict: parallel coordinates, importance, overlaid learning curves).
"""

from __future__ import annotations

from interp.sweep.result import SweepResult
from interp.sweep.run import SweepConfig, open_storage, run_sweep
from interp.sweep.space import SweepSpec, load_space

__all__ = ["SweepConfig", "SweepResult", "SweepSpec", "load_space", "open_storage", "run_sweep"]
