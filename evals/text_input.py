"""Moved to core: `interp.text_input` (the one text-file rule) and `interp.eval_text` (--text/--split);
this re-export keeps old imports working."""

from interp.eval_text import EVAL_SPLITS, EvalText, eval_text, split_documents, train_text  # noqa: F401
from interp.text_input import (  # noqa: F401
    MAX_TEXT_BYTES,
    check_prompt,
    read_documents,
    read_text_file,
)
