"""A fused, framework-free step of :class:`~melodyrnn.models.rnn.EventRNN` for generation loops.

At batch 1 a step of a 2x512 model is a few hundred microseconds of matrix-vector products,
and torch spends as much again dispatching its ~20 small operations (see bench/README.md).
:class:`NumpyStepper` runs the same math as :meth:`EventRNN.step` in float32 numpy on buffers
allocated once, with one BLAS call per layer:

* every layer ``k`` owns a row buffer ``[inp_k | h_k | 1]`` and a fused kernel
  ``[kernel; bias + forget bias]`` (the constant 1 column adds the bias inside the product),
  so ``z = [inp_k | h_k | 1] @ fused`` is one ``np.dot``; the layer's new ``h_k`` is written
  straight into its own buffer (the next step's recurrent input) and copied into layer
  ``k + 1``'s input slot; the logits are ``[h_last | 1] @ [weights; biases]``, a view;
* the kernel's gate columns are stored in the order ``i, f, o, j`` with the ``i, f, o``
  columns negated (an exact sign flip), so the three sigmoids are ``1 / (1 + exp(z))`` over
  one contiguous block, three in-place ufuncs, and ``tanh`` runs on the ``j`` block alone;
* attention (both layouts of :mod:`melodyrnn.models.attention`) runs the same formulas on
  numpy arrays.

Results equal :meth:`EventRNN.step` up to float32 round-off (the products sum in another order;
numpy's ``exp``/``tanh`` differ from torch's by an ulp or so): about 1e-7 on the fixture
checkpoints, tested to 1e-5. The fused arrays share no memory with the model; they are built
once per model (:func:`fused_weights`) and rebuilt when a parameter has changed.
:func:`blas_threads` sets numpy's BLAS threads for a loop (generation uses one thread below 16
rows, like torch).
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Iterator

import numpy as np
import threadpoolctl
import torch

from melodyrnn.errors import ConfigError, ModelInputError

__all__ = ["NumpyStepper", "blas_threads", "fused_weights"]

_CONTROLLER: list[threadpoolctl.ThreadpoolController] = []


@contextlib.contextmanager
def blas_threads(num_threads: int) -> Iterator[None]:
    """numpy's BLAS on ``num_threads`` threads inside the block (its default is every core:
    at batch 1 a second thread gains little and stalls when another process holds the core)."""
    if not _CONTROLLER:
        _CONTROLLER.append(threadpoolctl.ThreadpoolController())  # scans the libraries once
    with _CONTROLLER[0].limit(limits=int(num_threads), user_api="blas"):
        yield


def _array(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().to(device="cpu", dtype=torch.float32).numpy()


def _cell_kernel(cell) -> np.ndarray:
    """``[kernel; bias + forget bias]`` with the gate columns as ``-i, -f, -o, j``."""
    size = cell.hidden_size
    fused = np.concatenate([_array(cell.kernel), _array(cell.bias + cell.forget_tf)[None]])
    i, j, f, o = (fused[:, g * size : (g + 1) * size] for g in range(4))  # TF's order
    return np.ascontiguousarray(np.concatenate([-i, -f, -o, j], axis=1))


def _build_weights(model) -> dict:
    weights = {
        "cells": [_cell_kernel(cell) for cell in model.cells],
        "logits": np.concatenate([_array(model.logits.weights), _array(model.logits.biases)[None]]),
    }
    att = model.attention
    if att is not None:
        weights["attention"] = {
            "input_kernel": np.concatenate(
                [_array(att.input_kernel), _array(att.input_bias)[None]]
            ),
            "attn_w": _array(att.attn_w),
            "attn_v": _array(att.attn_v),
            "query_kernel": _array(att.query_kernel),
            "query_bias": _array(att.query_bias) if model.attn_query_bias else None,
            "output_kernel": _array(att.output_kernel),
            "output_bias": _array(att.output_bias),
        }
    return weights


_WEIGHTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def fused_weights(model) -> dict:
    """The arrays :class:`NumpyStepper` multiplies by, built once per model and kept while
    no parameter changes (each parameter's storage and in-place version are checked)."""
    key = tuple((p.data_ptr(), p._version, p.dtype, p.device) for p in model.parameters())
    cached = _WEIGHTS.get(model)
    if cached is None or cached[0] != key:
        cached = _WEIGHTS[model] = (key, _build_weights(model))
    return cached[1]


class _Cell:
    """One LSTM layer on its own buffers: ``xh`` [B, in + H + 1], ``z`` [B, 4H], ``c`` [B, H]."""

    def __init__(self, kernel: np.ndarray, n_in: int, size: int, rows: int) -> None:
        self.kernel = kernel  # shared with the cache: never written to
        self.n_in, self.size = n_in, size
        self.xh = np.zeros((rows, n_in + size + 1), np.float32)
        self.xh[:, -1] = 1.0
        self.z = np.empty((rows, 4 * size), np.float32)
        self.c = np.zeros((rows, size), np.float32)
        self.inp = self.xh[:, :n_in]
        self.h = self.xh[:, n_in : n_in + size]
        self.h1 = self.xh[:, n_in:]  # [h | 1]: the logits layer's (or attention's) input
        z = self.z
        self.sig = z[:, : 3 * size]
        self.i, self.f, self.o = z[:, :size], z[:, size : 2 * size], z[:, 2 * size : 3 * size]
        self.j = z[:, 3 * size :]

    def run(self) -> None:
        """One step on the input already in ``self.inp``: new ``c`` and ``h`` in place."""
        np.dot(self.xh, self.kernel, out=self.z)  # np.dot: less dispatch than np.matmul
        sig = self.sig
        np.exp(sig, out=sig)  # exp(-v): the i, f, o columns are negated
        sig += 1.0
        np.reciprocal(sig, out=sig)
        j = self.j
        np.tanh(j, out=j)
        j *= self.i
        c = self.c
        c *= self.f
        c += j
        np.tanh(c, out=self.h)
        self.h *= self.o


class _Attention:
    """TF's attention wrapper on numpy arrays (formulas in :mod:`melodyrnn.models.attention`)."""

    def __init__(self, weights: dict, rows: int, length: int, size: int) -> None:
        for name, value in weights.items():  # shared with the cache: never written to
            setattr(self, name, value)
        x_size = self.input_kernel.shape[1]
        self.xa = np.zeros((rows, x_size + size + 1), np.float32)  # [x | a | 1]
        self.xa[:, -1] = 1.0
        self.x, self.a = self.xa[:, :x_size], self.xa[:, x_size : x_size + size]
        self.window = np.zeros((rows, length, size), np.float32)

    def wrapped_input(self) -> np.ndarray:
        """``u = [x | a] @ input_kernel + input_bias`` (``x`` already in ``self.x``)."""
        return self.xa @ self.input_kernel

    def finish(self, h_out: np.ndarray, cell_state: list[np.ndarray]) -> np.ndarray:
        """Steps 2-5: the output ``out`` [B, S]; ``a`` and the window are updated in place."""
        query = np.concatenate(cell_state, axis=1) @ self.query_kernel
        if self.query_bias is not None:
            query += self.query_bias
        window = self.window
        scores = np.tanh(window @ self.attn_w + query[:, None, :]) @ self.attn_v  # [B, L]
        scores -= scores.max(axis=1, keepdims=True)
        weights = np.exp(scores)
        weights /= weights.sum(axis=1, keepdims=True)
        d = np.matmul(weights[:, None, :], window)[:, 0]  # [B, S]
        out = np.concatenate([h_out, d], axis=1) @ self.output_kernel
        out += self.output_bias
        self.a[...] = d
        window[:, :-1] = window[:, 1:].copy()
        window[:, -1] = out
        return out


class NumpyStepper:
    """:meth:`EventRNN.step` for ``rows`` rows in float32 numpy, state kept inside.

    ``load_state(state)`` takes an :class:`EventRNN` state (e.g. after the primer's
    ``forward``), ``step(x)`` feeds inputs [rows, X] and returns the logits [rows, C] (a
    buffer: valid until the next step), ``reorder(index)`` selects rows like
    :meth:`EventRNN.reorder_state`, ``state()`` gives the state back as torch tensors.
    """

    def __init__(self, model, rows: int) -> None:
        if model.training and model.dropout_keep_prob < 1.0:
            raise ConfigError("NumpyStepper runs inference only: put the model in eval mode")
        self.rows = int(rows)
        self.input_size = model.input_size
        weights = fused_weights(model)
        self.cells = [
            _Cell(kernel, cell.input_size, cell.hidden_size, self.rows)
            for kernel, cell in zip(weights["cells"], model.cells, strict=True)
        ]
        self.first_layer = model.first_layer_attention
        self.attention = None
        if model.attention is not None:
            self.attention = _Attention(
                weights["attention"], self.rows, model.attn_length, model.attn_size
            )
        self.attn_output_layer = model.attn_output_layer
        self.logits_kernel = weights["logits"]
        self.logits = np.empty((self.rows, model.num_classes), np.float32)
        self._attn_out = np.ones((self.rows, self.logits_kernel.shape[0]), np.float32)

    # ------------------------------------------------------------------ state

    def load_state(self, state) -> None:
        """Copy an :class:`EventRNN` state (tuple of tensors, batch first) into the buffers."""
        for k, cell in enumerate(self.cells):
            cell.c[...] = _array(state[2 * k])
            cell.h[...] = _array(state[2 * k + 1])
        if self.attention is not None:
            self.attention.a[...] = _array(state[-2])
            self.attention.window[...] = _array(state[-1])

    def state(self) -> tuple[torch.Tensor, ...]:
        """The current state as torch tensors (copies), in :class:`EventRNN`'s layout."""
        parts = []
        for cell in self.cells:
            parts += [torch.from_numpy(cell.c.copy()), torch.from_numpy(cell.h.copy())]
        if self.attention is not None:
            parts += [torch.from_numpy(self.attention.a.copy())]
            parts += [torch.from_numpy(self.attention.window.copy())]
        return tuple(parts)

    def reorder(self, index: np.ndarray) -> None:
        """Keep rows ``index`` (a permutation with repeats, ``rows`` long), in place."""
        for cell in self.cells:
            cell.c[...] = cell.c[index]
            cell.h[...] = cell.h[index]
        if self.attention is not None:
            self.attention.a[...] = self.attention.a[index]
            self.attention.window[...] = self.attention.window[index]

    # ------------------------------------------------------------------ stepping

    def step(self, x: np.ndarray) -> np.ndarray:
        """Feed ``x`` [rows, X]: the logits [rows, C] (overwritten by the next step)."""
        if x.shape != (self.rows, self.input_size):
            raise ModelInputError(
                f"expected inputs of shape [{self.rows}, {self.input_size}], got {list(x.shape)}"
            )
        with np.errstate(over="ignore"):  # exp overflows to inf where a gate saturates to 0
            if self.attention is None:
                top = self._stack(x, 0)
            elif self.first_layer:
                top = self._first_layer(x)
            else:
                top = self._whole_stack(x)
        np.dot(top, self.logits_kernel, out=self.logits)
        return self.logits

    def _stack(self, inp: np.ndarray, start: int) -> np.ndarray:
        """Layers ``start``.. on ``inp``: ``[h_last | 1]`` (a view)."""
        cells = self.cells
        cells[start].inp[...] = inp
        for k in range(start, len(cells)):
            cell = cells[k]
            cell.run()
            if k + 1 < len(cells):
                cells[k + 1].inp[...] = cell.h
        return cells[-1].h1

    def _with_ones(self, out: np.ndarray) -> np.ndarray:
        """``[out | 1]``: the logits layer's input after an attention output."""
        self._attn_out[:, :-1] = out
        return self._attn_out

    def _whole_stack(self, x: np.ndarray) -> np.ndarray:
        att = self.attention
        att.x[...] = x
        self._stack(att.wrapped_input(), 0)
        h_out = self.cells[self.attn_output_layer].h
        parts = [part for cell in self.cells for part in (cell.c, cell.h)]
        return self._with_ones(att.finish(h_out, parts))

    def _first_layer(self, x: np.ndarray) -> np.ndarray:
        att = self.attention
        att.x[...] = x
        cell = self.cells[0]
        cell.inp[...] = att.wrapped_input()
        cell.run()
        out = att.finish(cell.h, [cell.c, cell.h])
        if len(self.cells) == 1:
            return self._with_ones(out)
        return self._stack(out, 1)
