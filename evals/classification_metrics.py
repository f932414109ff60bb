"""Classification metrics: accuracy, macro-F1, per-class precision/recall/F1/support, confusion matrix.

Plain Python on integer class indices (no sklearn dependency), with sklearn's conventions so numbers
match `sklearn.metrics.classification_report(..., zero_division=0)`:

    confusion[i][j]  = number of examples with gold class i predicted as class j    # (k, k_pred)
    precision_c      = TP_c / (TP_c + FP_c)      (0 when nothing was predicted as c)
    recall_c         = TP_c / (TP_c + FN_c)      (0 when c has no gold examples)
    f1_c             = 2 P R / (P + R)           (0 when P + R = 0)
    macro_f1         = mean of f1_c over the k gold classes (every class counts equally)

A prediction may also be "none of the k classes" (index k, e.g. full-vocabulary decoding whose argmax
is not a label token): pass `n_pred_classes = k + 1`; that column appears in the confusion matrix and
counts as a miss for recall, but is not itself a class in the macro average.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from interp.errors import UserError


def confusion_matrix(gold: Sequence[int], pred: Sequence[int], n_classes: int,
                     n_pred_classes: int | None = None) -> list[list[int]]:
    """(n_classes, n_pred_classes) counts: rows are gold classes, columns predicted classes."""
    n_pred = n_classes if n_pred_classes is None else n_pred_classes
    if len(gold) != len(pred):
        raise UserError(f"gold and predicted labels differ in length ({len(gold)} vs {len(pred)})")
    cm = [[0] * n_pred for _ in range(n_classes)]
    for g, p in zip(gold, pred, strict=True):
        if not (0 <= g < n_classes and 0 <= p < n_pred):
            raise UserError(f"class index out of range: gold={g}, pred={p} for {n_classes} classes")
        cm[g][p] += 1
    return cm


def per_class(cm: list[list[int]]) -> list[dict[str, float | int]]:
    """Precision, recall, F1 and support of each gold class (row) of a confusion matrix."""
    k = len(cm)
    out = []
    for c in range(k):
        tp = cm[c][c]
        support = sum(cm[c])
        predicted = sum(cm[g][c] for g in range(k))
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        out.append({"precision": precision, "recall": recall, "f1": f1, "support": support})
    return out


def classification_report(gold: Sequence[int], pred: Sequence[int], labels: Sequence[str],
                          n_pred_classes: int | None = None) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class P/R/F1/support (keyed by label) and the confusion matrix."""
    k = len(labels)
    cm = confusion_matrix(gold, pred, k, n_pred_classes)
    rows = per_class(cm)
    n = len(gold)
    correct = sum(cm[c][c] for c in range(k))
    return {
        "n": n,
        "accuracy": correct / n if n else 0.0,
        "macro_f1": sum(r["f1"] for r in rows) / k if k else 0.0,
        "macro_precision": sum(r["precision"] for r in rows) / k if k else 0.0,
        "macro_recall": sum(r["recall"] for r in rows) / k if k else 0.0,
        "per_class": {label: row for label, row in zip(labels, rows, strict=True)},
        "confusion": cm,
    }


def format_report(report: dict[str, Any], labels: Sequence[str]) -> str:
    """A small text table in the style of sklearn's classification report."""
    w = max([len(lab) for lab in labels] + [9])
    lines = [f"{'':>{w}}  precision  recall  f1-score  support"]
    for lab in labels:
        r = report["per_class"][lab]
        lines.append(f"{lab:>{w}}  {r['precision']:9.3f}  {r['recall']:6.3f}  {r['f1']:8.3f}  {r['support']:7d}")
    lines.append(f"{'accuracy':>{w}}  {'':9}  {'':6}  {report['accuracy']:8.3f}  {report['n']:7d}")
    lines.append(f"{'macro avg':>{w}}  {report['macro_precision']:9.3f}  {report['macro_recall']:6.3f}  "
                 f"{report['macro_f1']:8.3f}  {report['n']:7d}")
    return "\n".join(lines)
