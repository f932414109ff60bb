"""One place to seed every RNG and make CPU runs deterministic."""

from __future__ import annotations

import os
import random
from typing import Any


def set_seed(seed: int) -> Any:
    """Seed python/numpy/torch, ask torch for deterministic kernels; return a seeded CPU `torch.Generator`.

    torch and numpy are imported here, not at module level, so CLI modules can import this cheaply.
    """
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True, warn_only=True)
    g = torch.Generator()
    g.manual_seed(seed)
    return g
