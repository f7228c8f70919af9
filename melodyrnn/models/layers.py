"""The TF-layout building blocks of :class:`~melodyrnn.models.rnn.EventRNN`.

* :class:`LSTMCellParams`: one TF ``BasicLSTMCell`` (``kernel`` [in + H, 4H], ``bias`` [4H],
  gate blocks ``i, j, f, o``, forget bias 1.0 added at run time), stepped with two ``addmm`` or
  run over a whole sequence in one fused ``torch.lstm`` call;
* :class:`LinearParams`: ``fully_connected`` (``x @ weights + biases``, no transpose);
* :func:`glorot_uniform_`: TF's default initializer, also used by :mod:`melodyrnn.models.attention`.

The math and the parameter table are in :mod:`melodyrnn.models.rnn`.
"""

from __future__ import annotations

import math
import warnings

import torch
from torch import nn

__all__ = ["FORGET_BIAS", "LSTMCellParams", "LinearParams", "glorot_uniform_"]

FORGET_BIAS = 1.0


def glorot_uniform_(tensor: torch.Tensor) -> None:
    """TF's default glorot-uniform initializer (a 1-D tensor uses fan_in = fan_out = size)."""
    if tensor.dim() == 1:
        fan_in = fan_out = tensor.shape[0]
    else:
        fan_in, fan_out = tensor.shape[0], tensor.shape[1]
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    with torch.no_grad():
        tensor.uniform_(-limit, limit)


class LSTMCellParams(nn.Module):
    """One TF ``BasicLSTMCell``: ``kernel`` [in + H, 4H] and ``bias`` [4H], gates ``i, j, f, o``."""

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.kernel = nn.Parameter(torch.empty(input_size + hidden_size, 4 * hidden_size))
        self.bias = nn.Parameter(torch.zeros(4 * hidden_size))
        forget_tf = torch.zeros(4 * hidden_size)
        forget_tf[2 * hidden_size : 3 * hidden_size] = FORGET_BIAS
        # The same constant in torch's gate order (i, f, g, o): used as nn.LSTM's bias_hh.
        forget_torch = torch.zeros(4 * hidden_size)
        forget_torch[hidden_size : 2 * hidden_size] = FORGET_BIAS
        torch_order = torch.arange(4 * hidden_size).view(4, hidden_size)[[0, 2, 1, 3]].reshape(-1)
        self.register_buffer("forget_tf", forget_tf, persistent=False)
        self.register_buffer("forget_torch", forget_torch, persistent=False)
        self.register_buffer("torch_order", torch_order, persistent=False)
        glorot_uniform_(self.kernel)

    def step(self, x: torch.Tensor, c: torch.Tensor, h: torch.Tensor):
        """One time step: returns the new ``(c, h)``."""
        size = self.hidden_size
        z = torch.addmm(self.bias + self.forget_tf, x, self.kernel[: self.input_size])
        z.addmm_(h, self.kernel[self.input_size :])
        # One sigmoid over all four blocks (the j block's sigmoid is simply unused).
        gates = torch.sigmoid(z)
        i, _, f, o = gates.chunk(4, dim=1)
        c = torch.addcmul(c * f, i, torch.tanh(z[:, size : 2 * size]))
        h = torch.tanh(c) * o
        return c, h

    def torch_lstm_weights(self) -> list[torch.Tensor]:
        """``[weight_ih, weight_hh, bias_ih, bias_hh]`` for ``torch.lstm`` (exact mapping)."""
        reordered = self.kernel.index_select(1, self.torch_order).t()
        return [
            reordered[:, : self.input_size].contiguous(),
            reordered[:, self.input_size :].contiguous(),
            self.bias.index_select(0, self.torch_order),
            self.forget_torch,
        ]

    def run_sequence(self, x: torch.Tensor, c: torch.Tensor, h: torch.Tensor, train: bool):
        """Run the cell over ``x`` [B, T, in] in one fused call; returns ``(out, c, h)``."""
        hx = (h.unsqueeze(0).contiguous(), c.unsqueeze(0).contiguous())
        with warnings.catch_warnings():
            # cuDNN warns that these derived weights are not one contiguous chunk; harmless.
            warnings.filterwarnings("ignore", message=".*contiguous chunk of memory.*")
            out, h_n, c_n = torch.lstm(
                x, hx, self.torch_lstm_weights(), True, 1, 0.0, train, False, True
            )
        return out, c_n[0], h_n[0]


class LinearParams(nn.Module):
    """``fully_connected``: ``logits = x @ weights + biases`` (TF layout, no transpose)."""

    def __init__(self, in_features: int, num_classes: int) -> None:
        super().__init__()
        self.weights = nn.Parameter(torch.empty(in_features, num_classes))
        self.biases = nn.Parameter(torch.zeros(num_classes))
        glorot_uniform_(self.weights)
