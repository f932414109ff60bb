"""Moved: the AtP estimate of the ablation sweep lives with the ablation code (`interp.ablation.atp`)."""

from interp.ablation.atp import *  # noqa: F403
from interp.ablation.atp import ablate_sweep_atp, estimate_sweep  # noqa: F401
