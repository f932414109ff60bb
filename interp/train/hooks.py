"""Private seams into the training loop (tests, `interp sweep`): not part of any public signature."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Hooks:
    """`interrupt_after_step`: raise KeyboardInterrupt after that step (a simulated kill, for resume tests).
    `on_eval(record)`: called on rank 0 after each validation eval with the step's metrics record
    (step, epoch, tokens, val_loss, ...); may raise to stop the run (a pruned sweep trial)."""

    interrupt_after_step: int | None = None
    on_eval: Callable[[dict[str, Any]], None] | None = None
