"""The event RNN: a stack of TF-style LSTM cells, optional attention, and a linear layer to logits.

This is the network behind every Magenta melody/drum/improv model and magenta.js ``MusicRNN``.
Its building blocks are in :mod:`melodyrnn.models.layers` (the LSTM cell, the linear layer)
and :mod:`melodyrnn.models.attention` (TF's attention wrapper and its two layouts).

Parameter layout (TF layout, stored as is)
------------------------------------------
Parameters are kept exactly as TensorFlow (and magenta.js checkpoints) store them, so loading
a magenta.js checkpoint is a plain copy and a saved checkpoint reads like the TF variables.

Our name, shape, and the TF / magenta.js variable of the whole-stack layout (``A/`` =
``rnn/attention_cell_wrapper/``, ``cell_k/`` = ``[A/]multi_rnn_cell/cell_k/basic_lstm_cell/``;
the first-layer layout's names and shapes are in :mod:`melodyrnn.models.attention`):

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

Attention
---------
With ``attn_length = L > 0`` TF's attention wrapper (:mod:`melodyrnn.models.attention`) wraps
either the whole stack (``attn_wraps="stack"``, the default: magenta.js and Magenta before May
2017) or only layer 0 (``attn_wraps="first"``: Magenta since then). Attention makes each step
depend on the previous output, so ``forward`` loops over time through the wrapped part: the
whole stack, or layer 0 only (the layers above it then run fused over the sequence).

Dropout (training only) is TF's ``DropoutWrapper(output_keep_prob)``: on the output of *every*
layer, including the last, never on the recurrent state; in the first-layer layout layer 0's
output is the attention wrapper's.

State
-----
A state is a tuple of tensors, each with the batch as its first dimension:
``(c_0, h_0, c_1, h_1, ..., [a, M])`` in both layouts. :meth:`EventRNN.reorder_state`
selects/reorders rows (beam search), :meth:`EventRNN.zero_state` makes the initial state.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from melodyrnn.errors import ConfigError, ModelInputError
from melodyrnn.models.attention import AttentionParams, attention_step
from melodyrnn.models.configs import ATTENTION_LAYOUTS, ModelConfig
from melodyrnn.models.layers import LinearParams, LSTMCellParams

__all__ = ["EventRNN", "State"]

State = tuple[torch.Tensor, ...]


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
        attn_wraps: ``"stack"`` (the default): the attention wrapper wraps the whole stack;
            ``"first"``: it wraps layer 0 only (Magenta since May 2017; then
            ``attn_output_layer`` must be None and S defaults to layer 0's size).
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
        attn_wraps: str = "stack",
    ) -> None:
        super().__init__()
        layer_sizes = [int(size) for size in layer_sizes]
        if input_size < 1 or num_classes < 1 or not layer_sizes or min(layer_sizes) < 1:
            raise ConfigError(
                "EventRNN needs input_size >= 1, num_classes >= 1 and non-empty layer_sizes >= 1"
            )
        if not 0.0 < dropout_keep_prob <= 1.0:
            raise ConfigError(f"dropout_keep_prob must be in (0, 1], got {dropout_keep_prob}")
        if attn_wraps not in ATTENTION_LAYOUTS:
            raise ConfigError(
                f"attn_wraps must be one of {', '.join(ATTENTION_LAYOUTS)}, got {attn_wraps!r}"
            )
        self.input_size = int(input_size)
        self.layer_sizes = layer_sizes
        self.num_classes = int(num_classes)
        self.dropout_keep_prob = float(dropout_keep_prob)
        self.attn_length = int(attn_length)
        self.attn_query_bias = bool(attn_query_bias)
        self.attn_wraps = attn_wraps
        self.attn_output_layer: int | None = None
        self.attn_size: int | None = None
        if attn_wraps == "first" and (not self.attn_length or attn_output_layer is not None):
            raise ConfigError(
                "attn_wraps 'first' needs attn_length > 0 and no attn_output_layer (the "
                "wrapper around layer 0 projects layer 0's output)"
            )
        if self.attn_length and attn_wraps == "first":
            self.attn_size = int(attn_size or layer_sizes[0])
        elif self.attn_length:
            if attn_output_layer is None:
                attn_output_layer = len(layer_sizes) - 1
            if not 0 <= attn_output_layer < len(layer_sizes):
                raise ConfigError(
                    f"attn_output_layer {attn_output_layer} is not a layer index of "
                    f"{len(layer_sizes)} layers"
                )
            self.attn_output_layer = int(attn_output_layer)
            self.attn_size = int(attn_size or layer_sizes[attn_output_layer])

        sizes_in = [self.input_size] + layer_sizes[:-1]
        if self.first_layer_attention and len(layer_sizes) > 1:
            sizes_in[1] = self.attn_size  # layer 1 reads the wrapper's output
        self.cells = nn.ModuleList(
            LSTMCellParams(n_in, n_h) for n_in, n_h in zip(sizes_in, layer_sizes, strict=True)
        )
        out_features = layer_sizes[-1]
        self.attention: AttentionParams | None = None
        if self.first_layer_attention:
            self.attention = AttentionParams(
                self.input_size, self.attn_size, 2 * layer_sizes[0], layer_sizes[0]
            )
            if len(layer_sizes) == 1:
                out_features = self.attn_size
        elif self.attn_length:
            self.attention = AttentionParams(
                self.input_size,
                self.attn_size,
                2 * sum(layer_sizes),
                layer_sizes[self.attn_output_layer],
            )
            out_features = self.attn_size
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
            attn_wraps=config.attn_wraps,
        )

    @property
    def first_layer_attention(self) -> bool:
        """Whether the attention wrapper wraps layer 0 only (``attn_wraps="first"``)."""
        return bool(self.attn_length) and self.attn_wraps == "first"

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

    def _stack_step(self, x: torch.Tensor, state: State, start: int = 0):
        """One step of LSTM layers ``start``..: (output of each after dropout, new (c, h) parts)."""
        outputs = []
        new_state: list[torch.Tensor] = []
        inp = x
        for k in range(start, len(self.cells)):
            c, h = self.cells[k].step(inp, state[2 * k], state[2 * k + 1])
            new_state += [c, h]
            inp = self._dropout(h)
            outputs.append(inp)
        return outputs, new_state

    def _first_layer_step(self, x, c, h, a, window):
        """One step of layer 0 inside its wrapper: ``(out, (c_0, h_0), a, window)``."""
        cell = self.cells[0]

        def run_cell(u: torch.Tensor):
            c_new, h_new = cell.step(u, c, h)
            return h_new, (c_new, h_new)

        return attention_step(self.attention, x, a, window, run_cell, self.attn_query_bias)

    def _attention_step(self, x: torch.Tensor, state: State):
        """One step of an attention model: (the logits layer's input, new state)."""
        a, window = state[-2], state[-1]
        if self.first_layer_attention:
            out, layer0, a, window = self._first_layer_step(x, state[0], state[1], a, window)
            inp = self._dropout(out)
            outputs, upper = self._stack_step(inp, state, start=1)
            return (outputs[-1] if outputs else inp), (*layer0, *upper, a, window)

        def run_stack(u: torch.Tensor):
            outputs, lstm_state = self._stack_step(u, state)
            return outputs[self.attn_output_layer], lstm_state

        out, lstm_state, a, window = attention_step(
            self.attention, x, a, window, run_stack, self.attn_query_bias
        )
        return out, (*lstm_state, a, window)

    def _run_fused(self, features: torch.Tensor, state: State, start: int = 0):
        """LSTM layers ``start``.. over a whole sequence, one fused call each: (the last
        layer's outputs after dropout, new (c, h) parts)."""
        new_state: list[torch.Tensor] = []
        for k in range(start, len(self.cells)):
            out, c, h = self.cells[k].run_sequence(
                features, state[2 * k], state[2 * k + 1], self.training
            )
            new_state += [c, h]
            features = self._dropout(out)
        return features, new_state

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

        Without attention every layer is one fused ``torch.lstm`` call over the T steps; with
        attention around layer 0 only, the layers above it are.
        """
        self._check_input(inputs, 3)
        batch, steps, _ = inputs.shape
        if state is None:
            state = self.zero_state(batch, inputs.device, inputs.dtype)
        if steps == 0:
            empty = inputs.new_zeros(batch, 0, self.num_classes)
            return empty, tuple(state)
        if self.first_layer_attention:
            c, h, a, window = state[0], state[1], state[-2], state[-1]
            outs = []
            for t in range(steps):
                out, (c, h), a, window = self._first_layer_step(inputs[:, t], c, h, a, window)
                outs.append(out)
            features, upper = self._run_fused(self._dropout(torch.stack(outs, dim=1)), state, 1)
            state = (c, h, *upper, a, window)
        elif self.attention is not None:
            outs = []
            for t in range(steps):
                out, state = self._attention_step(inputs[:, t], state)
                outs.append(out)
            features = torch.stack(outs, dim=1)
        else:
            features, new_state = self._run_fused(inputs, state)
            state = tuple(new_state)
        logits = torch.matmul(features, self.logits.weights) + self.logits.biases
        return logits, tuple(state)
