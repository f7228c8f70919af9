"""Next-event prediction metrics, the same for the LSTM and the n-gram.

Magenta reports loss, perplexity, accuracy, event_accuracy and no_event_accuracy over the
training labels; melodyrnn adds the NLL on event steps (labels that are not NO_EVENT), because
plain accuracy and loss are inflated by the many "hold" steps of a melody.
"""

from __future__ import annotations

import math

import numpy as np


def step_metrics(
    log_likelihoods: np.ndarray,
    predictions: np.ndarray,
    labels: np.ndarray,
    default_label: int,
    event_mask: np.ndarray | None = None,
) -> dict:
    """Metrics over N scored steps.

    ``log_likelihoods[i]`` is the model's natural-log probability of ``labels[i]``;
    ``predictions[i]`` its most likely class at that step; ``default_label`` the NO_EVENT label.
    ``event_mask`` marks the steps whose *event* is not NO_EVENT; by default it is
    ``labels != default_label``, which is the same for one-hot encodings. Give it for lookback
    and key encodings, whose repeat labels can stand for NO_EVENT, so that "event steps" mean
    the same steps for every model.
    """
    ll = np.asarray(log_likelihoods, dtype=np.float64)
    labels = np.asarray(labels)
    correct = np.asarray(predictions) == labels
    event = labels != default_label if event_mask is None else np.asarray(event_mask, bool)
    n = len(labels)
    if n == 0:
        raise ValueError("no steps to score")

    def mean(x, where):
        return float(x[where].mean()) if where.any() else float("nan")

    loss = float(-ll.mean())
    nll_event = -mean(ll, event)
    return {
        "steps": int(n),
        "event_steps": int(event.sum()),
        "loss": loss,
        "loss_bits": loss / math.log(2),
        "perplexity": math.exp(loss),
        "accuracy": float(correct.mean()),
        "event_accuracy": mean(correct, event),
        "no_event_accuracy": mean(correct, ~event),
        "nll_event": nll_event,
        "nll_event_bits": nll_event / math.log(2),
        "nll_no_event": -mean(ll, ~event),
    }


METRIC_LABELS = {
    "loss": "NLL per step (nats)",
    "loss_bits": "NLL per step (bits)",
    "perplexity": "perplexity",
    "accuracy": "accuracy",
    "event_accuracy": "event accuracy",
    "no_event_accuracy": "no-event accuracy",
    "nll_event": "NLL on event steps (nats)",
    "nll_event_bits": "NLL on event steps (bits)",
}


def format_table(columns: dict[str, dict]) -> str:
    """Metrics of several models side by side (one column per model)."""
    names = list(columns)
    width = max(12, *(len(n) for n in names))
    lines = ["metric".ljust(28) + "".join(n.rjust(width + 2) for n in names)]
    for key, label in METRIC_LABELS.items():
        row = label.ljust(28)
        for name in names:
            value = columns[name].get(key)
            row += (f"{value:.4f}" if value is not None else "-").rjust(width + 2)
        lines.append(row)
    steps = columns[names[0]].get("steps")
    if steps is not None:
        lines.append(f"scored steps: {steps} ({columns[names[0]].get('event_steps')} event steps)")
    return "\n".join(lines)
