"""TF's ``AttentionCellWrapper`` for :class:`~melodyrnn.models.rnn.EventRNN`, both layouts.

The wrapper (TF contrib, copied into Magenta) wraps one RNN cell. With attention length
``L > 0`` and attention size ``S`` its state besides the wrapped cell's is ``a`` (attention
vector, [S]) and ``M`` (window of the last ``L`` outputs, [L, S]), all zeros at the start. One
step with input ``x`` (:func:`attention_step`):

1. ``u = concat(x, a) @ input_kernel + input_bias`` ([X + S, X]: ``u`` is as wide as ``x``);
   the wrapped cell runs on ``u``;
2. ``q = concat(the wrapped cell's new state parts) @ query_kernel`` (``+ query_bias`` only
   with ``attn_query_bias``: TF adds it, magenta.js does not);
3. ``s_l = Σ_j attn_v[j]·tanh((M @ attn_w)[l, j] + q[j])``, ``w = softmax(s)`` over the window,
   ``d = Σ_l w_l·M[l]``;
4. ``out = concat(h_out, d) @ output_kernel + output_bias`` ([H_out + S, S]), ``h_out`` being
   the wrapped cell's output;
5. ``a = d``; ``M`` drops its oldest row and appends ``out``; ``out`` is the wrapper's output.

Where the wrapper sits (``attn_wraps``, one of
:data:`~melodyrnn.models.configs.ATTENTION_LAYOUTS`):

* ``"stack"`` (Magenta before May 2017, the published bundles, magenta.js): it wraps the whole
  LSTM stack, so ``q`` is ``concat(c_0, h_0, c_1, h_1, ...)`` ([2 ΣH_k, S]) and ``h_out`` is
  the output of layer ``attn_output_layer`` (after its dropout; magenta.js hard-codes layer 2,
  TF uses the last); ``out`` goes to the logits layer. TF names: ``rnn/attention_cell_wrapper/``
  ``{kernel, bias, attention/{attn_w, attn_v, kernel, bias}, attn_output_projection/...}`` and
  the cells under ``rnn/attention_cell_wrapper/multi_rnn_cell/cell_k/basic_lstm_cell/``.
* ``"first"`` (Magenta since PR #670, 2017-05-24): it wraps only LSTM layer 0, so ``q`` is
  ``concat(c_0, h_0)`` ([2 H_0, S]) and ``h_out`` is ``h_0`` (no dropout inside the wrapper);
  ``out`` (S wide; S defaults to H_0) is layer 0's output: the dropout of layer 0 applies to it
  and it feeds layer 1 (``cells.1.kernel`` is [S + H_1, 4 H_1]), or the logits layer when there
  is one layer. Layers 1.. are plain cells. TF names: the same leaves under
  ``rnn/multi_rnn_cell/cell_0/attention_cell_wrapper/`` (cell 0's kernel and bias under its
  ``basic_lstm_cell/``), the other cells under ``rnn/multi_rnn_cell/cell_k/basic_lstm_cell/``.

Attention makes each step depend on the previous output, so these steps are looped over time
(in the first-layer layout only layer 0 is: the layers above run fused, see ``rnn``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from melodyrnn.models.layers import glorot_uniform_

__all__ = ["AttentionParams", "attention_step"]


class AttentionParams(nn.Module):
    """Parameters of one attention wrapper (see the module docstring).

    Args:
        input_size: width X of the wrapper's input.
        attn_size: attention size S.
        state_size: width of the wrapped cell's concatenated state (the query's input).
        output_hidden: width of the wrapped cell's output ``h_out``.
    """

    def __init__(self, input_size: int, attn_size: int, state_size: int, output_hidden: int):
        super().__init__()
        s = attn_size
        self.input_kernel = nn.Parameter(torch.empty(input_size + s, input_size))
        self.input_bias = nn.Parameter(torch.zeros(input_size))
        self.attn_w = nn.Parameter(torch.empty(s, s))
        self.attn_v = nn.Parameter(torch.empty(s))
        self.query_kernel = nn.Parameter(torch.empty(state_size, s))
        self.query_bias = nn.Parameter(torch.zeros(s))
        self.output_kernel = nn.Parameter(torch.empty(output_hidden + s, s))
        self.output_bias = nn.Parameter(torch.zeros(s))
        for p in (
            self.input_kernel,
            self.attn_w,
            self.attn_v,
            self.query_kernel,
            self.output_kernel,
        ):
            glorot_uniform_(p)


CellFn = Callable[[torch.Tensor], tuple[torch.Tensor, Sequence[torch.Tensor]]]


def attention_step(
    att: AttentionParams,
    x: torch.Tensor,
    a: torch.Tensor,
    window: torch.Tensor,
    run_cell: CellFn,
    query_bias: bool,
):
    """One step of the wrapper around ``run_cell`` (``u`` [B, X] -> ``(h_out [B, H_out], new
    state parts)``): returns ``(out [B, S], the cell's new state parts, new a, new window)``."""
    u = torch.addmm(att.input_bias, torch.cat((x, a), dim=1), att.input_kernel)
    h_out, cell_state = run_cell(u)
    query = torch.cat(tuple(cell_state), dim=1) @ att.query_kernel
    if query_bias:
        query = query + att.query_bias
    features = torch.matmul(window, att.attn_w)  # [B, L, S]
    scores = torch.tanh(features + query.unsqueeze(1)) @ att.attn_v  # [B, L]
    weights = torch.softmax(scores, dim=1)
    d = torch.bmm(weights.unsqueeze(1), window).squeeze(1)  # [B, S]
    out = torch.addmm(att.output_bias, torch.cat((h_out, d), dim=1), att.output_kernel)
    window = torch.cat((window[:, 1:], out.unsqueeze(1)), dim=1)
    return out, cell_state, d, window
