"""The event RNN: a stack of TF-style LSTM cells, optional attention, and a linear layer to logits.

This is the network behind every Magenta melody/drum/improv model and magenta.js ``MusicRNN``.

Parameter layout (TF layout, stored as is)
------------------------------------------
Parameters are kept exactly as TensorFlow (and magenta.js checkpoints) store them, so loading
a magenta.js checkpoint is a plain copy and a saved checkpoint reads like the TF variables.

Our name, shape, and the TF / magenta.js variable (``A/`` = ``rnn/attention_cell_wrapper/``,
``cell_k/`` = ``[A/]multi_rnn_cell/cell_k/basic_lstm_cell/``):

* ``cells.{k}.kernel``        [in_k + H_k, 4 H_k]  ``cell_k/kernel``
* ``cells.{k}.bias``          [4 H_k]              ``cell_k/bias``
* ``attention.input_kernel``  [X + S, X]           ``A/kernel``
* ``attention.input_bias``    [X]                  ``A/bias``
* ``attention.attn_w``        [S, S]               ``A/attention/attn_w`` (stored [1, 1, S, S])
* ``attention.attn_v``        [S]                  ``A/attention/attn_v``
* ``attention.query_kernel``  [2 ΣH_k, S]          ``A/attention/kernel``
* ``attention.query_bias``    [S]                  ``A/attention/bias``
* ``attention.output_kernel`` [H_out + S, S]       ``A/attention_output_projection/kernel``
* ``attention.output_bias``   [S]                  ``A/attention_output_projection/bias``
* ``logits.weights``          [H_last or S, C]     ``fully_connected/weights``
* ``logits.biases``           [C]                  ``fully_connected/biases``

An LSTM cell is TF's ``BasicLSTMCell``: ``z = concat(x, h) @ kernel + bias`` split into the
column blocks ``i, j, f, o`` (in that order), ``c' = σ(i)·tanh(j) + c·σ(f + 1)``,
``h' = tanh(c')·σ(o)``. The forget bias 1.0 is added at run time and is *not* stored.

Two ways to run the same math:

* :meth:`EventRNN.forward` (training, priming) runs each LSTM layer over the whole sequence in
  one fused ``torch.lstm`` call (the kernel behind ``nn.LSTM``). Its weights are derived from
  the TF parameters on every call with an exact mapping: the column blocks are reordered
  ``(i, j, f, o) -> (i, f, j, o)``, ``weight_ih = kernel[:in].T``, ``weight_hh = kernel[in:].T``,
  ``bias_ih = bias`` (reordered) and ``bias_hh`` = the constant forget bias (1.0 on the ``f``
  block). Gradients flow back to the TF parameters. This is 5-7x faster than a Python loop
  over time for training. Layer sizes may differ: every layer is its own fused call.
* :meth:`EventRNN.step` (generation) runs one time step with two ``addmm`` per layer on the
  row blocks ``kernel[:in]`` and ``kernel[in:]`` (views, no ``torch.cat``);
  :meth:`EventRNN.stepper` returns the same step with the weights gathered once, for
  generation loops. Stepping
  ``nn.LSTM`` one token at a time is several times slower on CPU.

Attention (magenta.js / old-TF "whole stack" layout)
----------------------------------------------------
With ``attn_length = L > 0`` the attention wrapper wraps the whole stack. State besides the
LSTM ``(c_k, h_k)``: ``a`` (attention vector, [S]) and ``M`` (window of the last ``L`` outputs,
[L, S]), all zeros at the start. One step with input ``x``:

1. ``u = concat(x, a) @ input_kernel + input_bias``; the LSTM stack runs on ``u``;
2. ``q = concat(c_0, h_0, c_1, h_1, ...) @ query_kernel`` (``+ query_bias`` only if
   ``attn_query_bias``: TF adds it, magenta.js does not);
3. ``s_l = Σ_j attn_v[j]·tanh((M @ attn_w)[l, j] + q[j])``, ``w = softmax(s)`` over the window,
   ``d = Σ_l w_l·M[l]``;
4. ``out = concat(h_out, d) @ output_kernel + output_bias`` where ``h_out`` is the output of
   layer ``attn_output_layer`` (magenta.js hard-codes layer 2; default: the last layer);
5. ``a = d``; ``M`` drops its oldest row and appends ``out``; ``out`` goes to the logits layer.

Attention makes each step depend on the previous output, so ``forward`` loops over time for
attention models. (Magenta's current TF code wraps only the first layer; that layout is not
implemented here.)

Dropout (training only) is TF's ``DropoutWrapper(output_keep_prob)``: on the output of *every*
layer, including the last, never on the recurrent state.

State
-----
A state is a tuple of tensors, each with the batch as its first dimension:
``(c_0, h_0, c_1, h_1, ..., [a, M])``. :meth:`EventRNN.reorder_state` selects/reorders rows
(beam search), :meth:`EventRNN.zero_state` makes the initial state.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from melodyrnn.errors import ConfigError, ModelInputError

if TYPE_CHECKING:
    from melodyrnn.models.configs import ModelConfig

__all__ = ["AttentionParams", "EventRNN", "LSTMCellParams", "LinearParams", "State"]

State = tuple[torch.Tensor, ...]

FORGET_BIAS = 1.0


def _glorot_uniform_(tensor: torch.Tensor) -> None:
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
        _glorot_uniform_(self.kernel)

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


class AttentionParams(nn.Module):
    """Parameters of the whole-stack attention wrapper (see the module docstring)."""

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
            _glorot_uniform_(p)


class LinearParams(nn.Module):
    """``fully_connected``: ``logits = x @ weights + biases`` (TF layout, no transpose)."""

    def __init__(self, in_features: int, num_classes: int) -> None:
        super().__init__()
        self.weights = nn.Parameter(torch.empty(in_features, num_classes))
        self.biases = nn.Parameter(torch.zeros(num_classes))
        _glorot_uniform_(self.weights)


class EventRNN(nn.Module):
    """LSTM stack (+ optional attention) + linear layer: inputs [B, T, X] -> logits [B, T, C].

    Args:
        input_size: width X of one input row.
        layer_sizes: LSTM sizes, bottom first (may be unequal).
        num_classes: number of output classes C.
        dropout_keep_prob: output keep probability after every layer in training mode.
        attn_length: attention window L (0: no attention).
        attn_output_layer: layer whose output feeds the attention output projection
            (default: the last layer; magenta.js uses 2).
        attn_size: attention size S (default: the size of ``attn_output_layer``).
        attn_query_bias: add ``query_bias`` to the attention query (TF layout) or not
            (magenta.js layout, the default).
    """

    def __init__(
        self,
        input_size: int,
        layer_sizes: list[int] | tuple[int, ...],
        num_classes: int,
        dropout_keep_prob: float = 1.0,
        attn_length: int = 0,
        attn_output_layer: int | None = None,
        attn_size: int | None = None,
        attn_query_bias: bool = False,
    ) -> None:
        super().__init__()
        layer_sizes = [int(size) for size in layer_sizes]
        if input_size < 1 or num_classes < 1 or not layer_sizes or min(layer_sizes) < 1:
            raise ConfigError(
                "EventRNN needs input_size >= 1, num_classes >= 1 and non-empty layer_sizes >= 1"
            )
        if not 0.0 < dropout_keep_prob <= 1.0:
            raise ConfigError(f"dropout_keep_prob must be in (0, 1], got {dropout_keep_prob}")
        self.input_size = int(input_size)
        self.layer_sizes = layer_sizes
        self.num_classes = int(num_classes)
        self.dropout_keep_prob = float(dropout_keep_prob)
        self.attn_length = int(attn_length)
        self.attn_query_bias = bool(attn_query_bias)
        if self.attn_length:
            if attn_output_layer is None:
                attn_output_layer = len(layer_sizes) - 1
            if not 0 <= attn_output_layer < len(layer_sizes):
                raise ConfigError(
                    f"attn_output_layer {attn_output_layer} is not a layer index of "
                    f"{len(layer_sizes)} layers"
                )
            self.attn_output_layer: int | None = int(attn_output_layer)
            self.attn_size: int | None = int(attn_size or layer_sizes[attn_output_layer])
        else:
            self.attn_output_layer = None
            self.attn_size = None

        sizes_in = [self.input_size] + layer_sizes[:-1]
        self.cells = nn.ModuleList(
            LSTMCellParams(n_in, n_h) for n_in, n_h in zip(sizes_in, layer_sizes, strict=True)
        )
        if self.attn_length:
            self.attention: AttentionParams | None = AttentionParams(
                self.input_size,
                self.attn_size,
                2 * sum(layer_sizes),
                layer_sizes[self.attn_output_layer],
            )
            out_features = self.attn_size
        else:
            self.attention = None
            out_features = layer_sizes[-1]
        self.logits = LinearParams(out_features, self.num_classes)

    # ----------------------------------------------------------------- construction

    @classmethod
    def from_config(cls, config: ModelConfig) -> EventRNN:
        """Build the (randomly initialised) model a :class:`ModelConfig` describes."""
        return cls(
            input_size=config.input_size,
            layer_sizes=config.layer_sizes,
            num_classes=config.num_classes,
            dropout_keep_prob=config.dropout_keep_prob,
            attn_length=config.attn_length,
            attn_output_layer=config.attn_output_layer,
            attn_size=config.attn_size,
            attn_query_bias=config.attn_query_bias,
        )

    @property
    def device(self) -> torch.device:
        return self.logits.weights.device

    @property
    def dtype(self) -> torch.dtype:
        return self.logits.weights.dtype

    # ----------------------------------------------------------------- state

    def zero_state(self, batch_size: int, device=None, dtype=None) -> State:
        """All-zero initial state for ``batch_size`` rows."""
        device = self.device if device is None else device
        dtype = self.dtype if dtype is None else dtype
        parts: list[torch.Tensor] = []
        for size in self.layer_sizes:
            parts.append(torch.zeros(batch_size, size, device=device, dtype=dtype))
            parts.append(torch.zeros(batch_size, size, device=device, dtype=dtype))
        if self.attention is not None:
            parts.append(torch.zeros(batch_size, self.attn_size, device=device, dtype=dtype))
            parts.append(
                torch.zeros(
                    batch_size, self.attn_length, self.attn_size, device=device, dtype=dtype
                )
            )
        return tuple(parts)

    @staticmethod
    def reorder_state(state: State, index: torch.Tensor) -> State:
        """Rows ``index`` (int tensor [B']) of every state tensor: beam search pruning/copying."""
        return tuple(part.index_select(0, index) for part in state)

    # ----------------------------------------------------------------- running

    def _dropout(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and self.dropout_keep_prob < 1.0:
            return F.dropout(x, p=1.0 - self.dropout_keep_prob, training=True)
        return x

    def _check_input(self, x: torch.Tensor, dims: int) -> None:
        if x.dim() != dims or x.shape[-1] != self.input_size:
            shape = "[B, T, X]" if dims == 3 else "[B, X]"
            raise ModelInputError(
                f"expected inputs of shape {shape} with X = {self.input_size}, got {tuple(x.shape)}"
            )

    def _stack_step(self, x: torch.Tensor, state: State):
        """One step of the LSTM stack: (output of every layer after dropout, new (c, h) parts)."""
        outputs = []
        new_state: list[torch.Tensor] = []
        inp = x
        for k, cell in enumerate(self.cells):
            c, h = cell.step(inp, state[2 * k], state[2 * k + 1])
            new_state += [c, h]
            inp = self._dropout(h)
            outputs.append(inp)
        return outputs, new_state

    def _attention_step(self, x: torch.Tensor, state: State):
        """One step of the attention-wrapped stack: (attention output [B, S], new state)."""
        att = self.attention
        a, window = state[-2], state[-1]
        u = torch.addmm(att.input_bias, torch.cat((x, a), dim=1), att.input_kernel)
        outputs, lstm_state = self._stack_step(u, state)
        query = torch.cat(lstm_state, dim=1) @ att.query_kernel
        if self.attn_query_bias:
            query = query + att.query_bias
        features = torch.matmul(window, att.attn_w)  # [B, L, S]
        scores = torch.tanh(features + query.unsqueeze(1)) @ att.attn_v  # [B, L]
        weights = torch.softmax(scores, dim=1)
        d = torch.bmm(weights.unsqueeze(1), window).squeeze(1)  # [B, S]
        h_out = outputs[self.attn_output_layer]
        out = torch.addmm(att.output_bias, torch.cat((h_out, d), dim=1), att.output_kernel)
        window = torch.cat((window[:, 1:], out.unsqueeze(1)), dim=1)
        return out, (*lstm_state, d, window)

    def step(self, x: torch.Tensor, state: State | None = None):
        """One time step: ``x`` [B, X] -> ``(logits [B, C], new_state)``.

        Generation calls this under ``torch.inference_mode()``; it never uses ``nn.LSTM``.
        """
        self._check_input(x, 2)
        if state is None:
            state = self.zero_state(x.shape[0], x.device, x.dtype)
        if self.attention is not None:
            out, new_state = self._attention_step(x, state)
        else:
            outputs, lstm_state = self._stack_step(x, state)
            out, new_state = outputs[-1], tuple(lstm_state)
        logits = torch.addmm(self.logits.biases, out, self.logits.weights)
        return logits, tuple(new_state)

    def stepper(self) -> Callable[[torch.Tensor, State], tuple[torch.Tensor, State]]:
        """A fast inference-only :meth:`step` for generation loops.

        The weights are gathered once (kernel row blocks, bias + forget bias, no module
        attribute lookups per step), so one step costs two ``addmm`` and seven small ops per
        layer. Call it under ``torch.inference_mode()`` and only while the parameters do not
        change. Attention models and models in training mode get :meth:`step` itself.
        """
        if self.attention is not None or (self.training and self.dropout_keep_prob < 1.0):
            return self.step
        layers = [
            (
                cell.kernel[: cell.input_size].detach(),
                cell.kernel[cell.input_size :].detach(),
                (cell.bias + cell.forget_tf).detach(),
                cell.hidden_size,
            )
            for cell in self.cells
        ]
        weights, biases = self.logits.weights.detach(), self.logits.biases.detach()

        def fast_step(x: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
            new_state: list[torch.Tensor] = []
            inp = x
            for k, (input_kernel, hidden_kernel, bias, size) in enumerate(layers):
                z = torch.addmm(bias, inp, input_kernel)
                z.addmm_(state[2 * k + 1], hidden_kernel)
                i, _, f, o = torch.sigmoid(z).chunk(4, dim=1)
                c = torch.addcmul(state[2 * k] * f, i, torch.tanh(z[:, size : 2 * size]))
                inp = torch.tanh(c) * o
                new_state += (c, inp)
            return torch.addmm(biases, inp, weights), tuple(new_state)

        return fast_step

    def forward(self, inputs: torch.Tensor, state: State | None = None):
        """Run a whole sequence: ``inputs`` [B, T, X] -> ``(logits [B, T, C], final state)``.

        Without attention every layer is one fused ``torch.lstm`` call over the T steps.
        """
        self._check_input(inputs, 3)
        batch, steps, _ = inputs.shape
        if state is None:
            state = self.zero_state(batch, inputs.device, inputs.dtype)
        if steps == 0:
            empty = inputs.new_zeros(batch, 0, self.num_classes)
            return empty, tuple(state)
        if self.attention is not None:
            outs = []
            for t in range(steps):
                out, state = self._attention_step(inputs[:, t], state)
                outs.append(out)
            features = torch.stack(outs, dim=1)
        else:
            features = inputs
            new_state: list[torch.Tensor] = []
            for k, cell in enumerate(self.cells):
                out, c, h = cell.run_sequence(
                    features, state[2 * k], state[2 * k + 1], self.training
                )
                new_state += [c, h]
                features = self._dropout(out)
            state = tuple(new_state)
        logits = torch.matmul(features, self.logits.weights) + self.logits.biases
        return logits, tuple(state)
