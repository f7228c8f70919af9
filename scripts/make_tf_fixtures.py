"""Write tests/fixtures/mag/: Magenta-style checkpoints and bundles made by real TensorFlow.

Run by hand, never by CI (TensorFlow is no dependency of melodyrnn or of its tests)::

    python3 -m venv /work/venv-tf && /work/venv-tf/bin/pip install tensorflow-cpu==2.21.0 numpy
    /work/venv-tf/bin/python scripts/make_tf_fixtures.py                # everything, afresh
    /work/venv-tf/bin/python scripts/make_tf_fixtures.py --only drum_kit_layer0 ...

``--only`` (re)writes just the fixtures named and their manifest entries and leaves every
other file alone (a rerun is not byte-identical: ``.npz`` files hold zip timestamps);
``--out`` writes into another folder (e.g. to compare a fresh run with the stored one).

For every generator id melodyrnn supports it builds the variables a Magenta events-RNN graph has
(names and shapes as in Magenta's graphs: ``rnn/[attention_cell_wrapper/]multi_rnn_cell/cell_k/
basic_lstm_cell/{kernel,bias}``, the whole-stack attention wrapper's variables,
``fully_connected/{weights,biases}``, ``global_step``) at small layer sizes, fills them with
seeded values, and saves them with TensorFlow's own savers:

* ``<name>.mag``: a ``GeneratorBundle`` (encoded by the protobuf library from a descriptor
  built here) around the single-file V1 checkpoint of ``tf.compat.v1.train.Saver(sharded=False,
  write_version=V1)`` and its metagraph, as Magenta's ``create_bundle_file`` makes one;
* ``<name>_run/train/``: the V2 checkpoint (``checkpoint``, ``model.ckpt-N.index``,
  ``.data-00000-of-00001``) a ``melody_rnn_train`` run folder holds, written in a temporary
  folder first, so ``checkpoint`` names a path that no longer exists (a moved run folder);
* ``<name>.npz``: the same weights under TF >= 1.1 names, plus ``oracle/inputs`` [2, T, X] and
  ``oracle/logits`` [2, T, C]: the logits TensorFlow computes for those inputs with its own
  LSTM kernel (``LSTMBlockCell``, the BasicLSTMCell gate layout) and the attention wrapper's
  math written in TF ops;

plus variants under older TensorFlow names (TF 1.0 ``weights``/``biases``, TF 0.x
``Linear/Matrix``) and, for attention_rnn, drum_kit and attention_improv, Magenta's post-2017
layout (``<name>_layer0``): the attention wrapper around the first LSTM layer only
(``rnn/multi_rnn_cell/cell_0/attention_cell_wrapper/...``, its query from cell 0's state, its
output projection feeding cell 1), with the logits TensorFlow computes for it the same way.
Weights are multiples of 1/64 so the files compress; any file over 16 KB is stored gzipped
(``.gz``) and the tests unpack it. ``manifest.json`` lists what was made (the first-layer
fixtures with ``"attn_wraps": "first"``).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory  # noqa: E402

tf1 = tf.compat.v1
OUT = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "mag"
STEPS = 8
GZIP_OVER = 16 * 1024

# name, generator id, input width, classes, layer sizes, attention length, naming, V2 run?
FIXTURES = [
    ("basic_rnn", "basic_rnn", 38, 38, [16, 12], 0, "tf1.1", True),
    ("mono_rnn", "mono_rnn", 130, 130, [8, 8], 0, "tf1.1", True),
    ("lookback_rnn", "lookback_rnn", 121, 40, [12, 8], 0, "tf1.1", True),
    ("attention_rnn", "attention_rnn", 74, 40, [12, 10], 40, "tf1.1", True),
    ("drum_kit", "drum_kit", 518, 512, [8, 8, 8], 32, "tf1.1", True),
    ("chord_pitches_improv", "chord_pitches_improv", 75, 38, [8, 8, 8], 0, "tf1.1", True),
    ("basic_improv", "basic_improv", 87, 38, [8, 6], 0, "tf1.1", True),
    ("attention_improv", "attention_improv", 123, 40, [8, 8, 8], 40, "tf1.1", True),
    ("attention_rnn_tf1_0", "attention_rnn", 74, 40, [8, 6], 40, "tf1.0", False),
    ("attention_rnn_tf0", "attention_rnn", 74, 40, [8, 6], 40, "tf0", False),
    ("basic_rnn_tf0", "basic_rnn", 38, 38, [8, 8], 0, "tf0", False),
    ("attention_rnn_layer0", "attention_rnn", 74, 40, [4, 4], 40, "layer0", True),
    ("drum_kit_layer0", "drum_kit", 518, 512, [6, 8, 8], 32, "layer0", True),
    ("attention_improv_layer0", "attention_improv", 123, 40, [10, 8, 6], 40, "layer0", True),
    ("one_drum", "one_drum", 2, 2, [8, 6], 0, "tf1.1", True),
]
ADAM_SLOTS = {"basic_rnn"}  # V2 run folders that also hold Adam's slots, as training writes


def variable_shapes(x, c, layers, attention):
    """Canonical (TF >= 1.1) name -> shape of a Magenta events-RNN graph's variables."""
    prefix = "rnn/attention_cell_wrapper/" if attention else "rnn/"
    shapes = {}
    n_in = x
    for k, h in enumerate(layers):
        cell = f"{prefix}multi_rnn_cell/cell_{k}/basic_lstm_cell/"
        shapes[cell + "kernel"] = (n_in + h, 4 * h)
        shapes[cell + "bias"] = (4 * h,)
        n_in = h
    out = layers[-1]
    if attention:
        s = layers[-1]  # attn_size defaults to the cell's output size, attn_vec_size to it
        a = "rnn/attention_cell_wrapper/"
        shapes[a + "kernel"] = (x + s, x)
        shapes[a + "bias"] = (x,)
        shapes[a + "attention/attn_w"] = (1, 1, s, s)
        shapes[a + "attention/attn_v"] = (s,)
        shapes[a + "attention/kernel"] = (2 * sum(layers), s)
        shapes[a + "attention/bias"] = (s,)
        shapes[a + "attn_output_projection/kernel"] = (layers[-1] + s, s)
        shapes[a + "attn_output_projection/bias"] = (s,)
        out = s
    shapes["fully_connected/weights"] = (out, c)
    shapes["fully_connected/biases"] = (c,)
    return shapes


def layer0_shapes(x, c, layers):
    """The post-2017 layout: attention wraps cell_0 only."""
    shapes = {}
    s = layers[0]
    a = "rnn/multi_rnn_cell/cell_0/attention_cell_wrapper/"
    shapes[a + "basic_lstm_cell/kernel"] = (x + s, 4 * s)
    shapes[a + "basic_lstm_cell/bias"] = (4 * s,)
    shapes[a + "kernel"] = (x + s, x)
    shapes[a + "bias"] = (x,)
    shapes[a + "attention/attn_w"] = (1, 1, s, s)
    shapes[a + "attention/attn_v"] = (s,)
    shapes[a + "attention/kernel"] = (2 * s, s)
    shapes[a + "attention/bias"] = (s,)
    shapes[a + "attn_output_projection/kernel"] = (2 * s, s)
    shapes[a + "attn_output_projection/bias"] = (s,)
    for k in range(1, len(layers)):
        cell = f"rnn/multi_rnn_cell/cell_{k}/basic_lstm_cell/"
        shapes[cell + "kernel"] = (layers[k - 1] + layers[k], 4 * layers[k])
        shapes[cell + "bias"] = (4 * layers[k],)
    shapes["fully_connected/weights"] = (layers[-1], c)
    shapes["fully_connected/biases"] = (c,)
    return shapes


_TF0_SCOPES = {
    "rnn": "RNN",
    "multi_rnn_cell": "MultiRNNCell",
    "basic_lstm_cell": "BasicLSTMCell",
    "attention_cell_wrapper": "AttentionCellWrapper",
    "attention": "Attention",
    "attn_w": "AttnW",
    "attn_v": "AttnV",
    "attn_output_projection": "AttnOutputProjection",
}


def old_name(name: str, naming: str) -> str:
    """A canonical name as TF 1.0 (weights/biases) or TF 0.x (CamelCase, Linear/Matrix) had it."""
    if naming in ("tf1.1", "layer0") or not name.startswith("rnn/"):
        return name
    parts = name.split("/")
    leaf = parts[-1]
    if naming == "tf1.0":
        parts[-1] = {"kernel": "weights", "bias": "biases"}.get(leaf, leaf)
        return "/".join(parts)
    scopes = []
    for part in parts[:-1]:
        if part.startswith("cell_"):
            scopes.append("Cell" + part[5:])
        else:
            scopes.append(_TF0_SCOPES.get(part, part))
    if leaf in ("kernel", "bias"):
        return "/".join([*scopes, "Linear", {"kernel": "Matrix", "bias": "Bias"}[leaf]])
    return "/".join([*scopes, _TF0_SCOPES.get(leaf, leaf)])


def make_weights(shapes, seed):
    """Seeded multiples of 1/64 in [-1/2, 1/2]; big tensors mostly zero (drum_kit's attention
    input kernel [518 + S, 518] keeps 6 rows), so the fixtures stay small."""
    rng = np.random.default_rng(seed)
    weights = {}
    for name, shape in shapes.items():
        values = rng.integers(-32, 33, size=shape).astype(np.float32) / 64 + 0  # no -0.0
        if values.size > 100_000:  # keep 6 whole rows, 2 of them of the attention part
            rows = np.zeros(shape[0], dtype=bool)
            rows[rng.choice(shape[1], 4, replace=False)] = True
            rows[shape[1] + rng.choice(shape[0] - shape[1], 2, replace=False)] = True
            values = np.where(rows[:, None], values, np.float32(0))
        elif values.size > 10_000:
            values = np.where(rng.random(shape) < 0.1, values, np.float32(0))
        weights[name] = values
    return weights


# --- the oracle: TensorFlow's own math for these weights --------------------------------------


def lstm_step(w, cell, inp, c, h, peep):
    """One BasicLSTMCell step with TF's own LSTM kernel: the new ``(c, h)``."""
    result = tf.raw_ops.LSTMBlockCell(
        x=inp,
        cs_prev=c,
        h_prev=h,
        w=w[cell + "kernel"],
        wci=peep,
        wcf=peep,
        wco=peep,
        b=w[cell + "bias"],
        forget_bias=1.0,
        cell_clip=-1.0,
        use_peephole=False,
    )
    return result[1], result[6]


def attention(w, a, cell_output, query, attn_states, attn_length, s):
    """The attention wrapper's step after its cell (scope ``a``): ``(output, new attns, new
    attn_states)`` from the cell's output, its flattened new state ``query`` and the window."""
    hidden = tf.reshape(attn_states, [-1, attn_length, 1, s])
    features = tf.nn.conv2d(hidden, w[a + "attention/attn_w"], [1, 1, 1, 1], "SAME")
    y = tf.matmul(query, w[a + "attention/kernel"]) + w[a + "attention/bias"]
    y = tf.reshape(y, [-1, 1, 1, s])
    scores = tf.reduce_sum(w[a + "attention/attn_v"] * tf.tanh(features + y), [2, 3])
    probs = tf.nn.softmax(scores)
    attns = tf.reduce_sum(tf.reshape(probs, [-1, attn_length, 1, 1]) * hidden, [1, 2])
    out = (
        tf.matmul(tf.concat([cell_output, attns], 1), w[a + "attn_output_projection/kernel"])
        + w[a + "attn_output_projection/bias"]
    )
    return out, attns, tf.concat([attn_states[:, 1:], out[:, None, :]], 1)


def oracle_logits(weights, x, layers, attn_length, inputs):
    """Logits [B, T, C] of a Magenta graph with these weights, computed with TF kernels."""
    attention_ = attn_length > 0
    prefix = "rnn/attention_cell_wrapper/" if attention_ else "rnn/"
    w = {k: tf.constant(v) for k, v in weights.items()}
    batch = inputs.shape[0]
    zeros = [tf.zeros([batch, h]) for h in layers]
    c, h = list(zeros), list(zeros)
    a = "rnn/attention_cell_wrapper/"
    if attention_:
        s = layers[-1]
        attns = tf.zeros([batch, s])
        attn_states = tf.zeros([batch, attn_length, s])
    peep = {h_: tf.zeros([h_]) for h_ in set(layers)}
    outputs = []
    for t in range(inputs.shape[1]):
        inp = tf.constant(inputs[:, t])
        if attention_:
            inp = tf.matmul(tf.concat([inp, attns], 1), w[a + "kernel"]) + w[a + "bias"]
        for k, size in enumerate(layers):
            cell = f"{prefix}multi_rnn_cell/cell_{k}/basic_lstm_cell/"
            c[k], h[k] = lstm_step(w, cell, inp, c[k], h[k], peep[size])
            inp = h[k]
        out = inp
        if attention_:
            query = tf.concat([part for k in range(len(layers)) for part in (c[k], h[k])], 1)
            out, attns, attn_states = attention(w, a, out, query, attn_states, attn_length, s)
        outputs.append(tf.matmul(out, w["fully_connected/weights"]) + w["fully_connected/biases"])
    return tf.stack(outputs, axis=1)


def oracle_logits_layer0(weights, layers, attn_length, inputs):
    """Logits [B, T, C] of Magenta's post-2017 graph (attention around cell 0 only: its input
    projection, cell 0, the query from cell 0's state, the output projection of [h_0, attns]
    feeding cell 1; cells 1.. plain), computed with TF kernels."""
    w = {k: tf.constant(v) for k, v in weights.items()}
    batch = inputs.shape[0]
    c = [tf.zeros([batch, size]) for size in layers]
    h = list(c)
    a = "rnn/multi_rnn_cell/cell_0/attention_cell_wrapper/"
    s = layers[0]  # attn_size defaults to the wrapped cell's output size
    attns = tf.zeros([batch, s])
    attn_states = tf.zeros([batch, attn_length, s])
    peep = {size: tf.zeros([size]) for size in set(layers)}
    outputs = []
    for t in range(inputs.shape[1]):
        inp = tf.constant(inputs[:, t])
        inp = tf.matmul(tf.concat([inp, attns], 1), w[a + "kernel"]) + w[a + "bias"]
        c[0], h[0] = lstm_step(w, a + "basic_lstm_cell/", inp, c[0], h[0], peep[layers[0]])
        query = tf.concat([c[0], h[0]], 1)
        inp, attns, attn_states = attention(w, a, h[0], query, attn_states, attn_length, s)
        for k in range(1, len(layers)):
            cell = f"rnn/multi_rnn_cell/cell_{k}/basic_lstm_cell/"
            c[k], h[k] = lstm_step(w, cell, inp, c[k], h[k], peep[layers[k]])
            inp = h[k]
        outputs.append(tf.matmul(inp, w["fully_connected/weights"]) + w["fully_connected/biases"])
    return tf.stack(outputs, axis=1)


# --- the bundle proto -------------------------------------------------------------------------


def bundle_class():
    """``magenta.GeneratorBundle``, built from a descriptor (the field numbers of
    magenta's generator.proto)."""
    file = descriptor_pb2.FileDescriptorProto(name="generator.proto", package="magenta")
    file.syntax = "proto3"
    details = file.message_type.add(name="GeneratorDetails")
    details.field.add(name="id", number=1, type=9, label=1)
    details.field.add(name="description", number=2, type=9, label=1)
    bundle = file.message_type.add(name="GeneratorBundle")
    nested = bundle.nested_type.add(name="BundleDetails")
    nested.field.add(name="description", number=1, type=9, label=1)
    bundle.field.add(
        name="generator_details", number=1, type=11, label=1, type_name=".magenta.GeneratorDetails"
    )
    bundle.field.add(name="checkpoint_file", number=2, type=12, label=3)
    bundle.field.add(name="metagraph_file", number=3, type=12, label=1)
    bundle.field.add(
        name="bundle_details",
        number=4,
        type=11,
        label=1,
        type_name=".magenta.GeneratorBundle.BundleDetails",
    )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("magenta.GeneratorBundle"))


# --- writing --------------------------------------------------------------------------------


def save(weights, naming, folder: Path, v1: bool, step: int, adam: bool):
    """Save ``weights`` with TF's V1 saver (``folder/model.ckpt``) or V2 (``model.ckpt-step``)."""
    graph = tf.Graph()
    with graph.as_default():
        # Zeros first, values loaded after: the metagraph then holds no copy of the weights.
        variables = [
            tf1.get_variable(
                old_name(name, naming), shape=value.shape, initializer=tf1.zeros_initializer()
            )
            for name, value in weights.items()
        ]
        step_var = tf1.train.get_or_create_global_step()
        assign = tf1.assign(step_var, step)
        if adam:
            for var in list(variables):
                for slot in ("Adam", "Adam_1"):
                    variables.append(
                        tf1.get_variable(
                            var.op.name + "/" + slot, initializer=tf.zeros_like(var.initial_value)
                        )
                    )
            tf1.get_variable("beta1_power", initializer=0.9)
            tf1.get_variable("beta2_power", initializer=0.999)
        with tf1.Session() as session:
            session.run(tf1.global_variables_initializer())
            session.run(assign)
            for var, value in zip(variables, weights.values()):
                var.load(value, session)
            if v1:
                saver = tf1.train.Saver(sharded=False, write_version=tf1.train.SaverDef.V1)
                saver.save(session, str(folder / "model.ckpt"), write_meta_graph=True)
            else:
                saver = tf1.train.Saver()
                saver.save(
                    session, str(folder / "model.ckpt"), global_step=step, write_meta_graph=False
                )


def write_fixture(spec, bundle_type, seed, out: Path):
    name, generator_id, x, c, layers, attn_length, naming, v2 = spec
    if naming == "layer0":
        shapes = layer0_shapes(x, c, layers)
    else:
        shapes = variable_shapes(x, c, layers, attn_length > 0)
    weights = make_weights(shapes, seed)
    made = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        save(weights, naming, tmp, v1=True, step=1234, adam=False)
        bundle = bundle_type()
        bundle.generator_details.id = generator_id
        bundle.generator_details.description = f"test fixture {name}: layers {layers}"
        bundle.bundle_details.description = "made by scripts/make_tf_fixtures.py"
        bundle.checkpoint_file.append((tmp / "model.ckpt").read_bytes())
        bundle.metagraph_file = (tmp / "model.ckpt.meta").read_bytes()
        (out / f"{name}.mag").write_bytes(bundle.SerializeToString())
        made.append(f"{name}.mag")
        if v2:
            train = tmp / "run" / "train"
            train.mkdir(parents=True)
            save(weights, naming, train, v1=False, step=321, adam=name in ADAM_SLOTS)
            target = out / f"{name}_run"
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(tmp / "run", target)
            made.append(f"{name}_run/")
    rng = np.random.default_rng(seed + 1000)
    inputs = (rng.random((2, STEPS, x)) < 0.08).astype(np.float32)
    with tf.Graph().as_default(), tf1.Session() as session:
        if naming == "layer0":
            logits = session.run(oracle_logits_layer0(weights, layers, attn_length, inputs))
        else:
            logits = session.run(oracle_logits(weights, x, layers, attn_length, inputs))
    arrays = dict(weights)
    arrays["oracle/inputs"] = inputs
    arrays["oracle/logits"] = logits
    np.savez_compressed(out / f"{name}.npz", **arrays)
    made.append(f"{name}.npz")
    entry = {"name": name, "generator_id": generator_id, "layers": layers, "files": made}
    if naming == "layer0":
        entry["attn_wraps"] = "first"
    return entry


def remove_fixture(name: str, out: Path) -> None:
    """Delete what an earlier run wrote for fixture ``name`` (plain or gzipped)."""
    for stem in (f"{name}.mag", f"{name}.npz"):
        for path in (out / stem, out / f"{stem}.gz"):
            path.unlink(missing_ok=True)
    shutil.rmtree(out / f"{name}_run", ignore_errors=True)


def gzip_large_files(out: Path) -> list[str]:
    packed = []
    for path in sorted(out.rglob("*")):
        if path.is_file() and path.suffix != ".gz" and path.stat().st_size > GZIP_OVER:
            with (
                open(path, "rb") as src,
                gzip.GzipFile(path.with_name(path.name + ".gz"), "wb", mtime=0) as dst,
            ):
                shutil.copyfileobj(src, dst)
            path.unlink()
            packed.append(str(path.relative_to(out)))
    return packed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    names = [spec[0] for spec in FIXTURES]
    parser.add_argument("--only", nargs="+", choices=names, help="rewrite just these fixtures")
    parser.add_argument("--out", type=Path, default=OUT, help=f"folder (default {OUT})")
    args = parser.parse_args(argv)
    out = args.out
    tf1.disable_eager_execution()
    bundle_type = bundle_class()
    if args.only:
        old = json.loads((out / "manifest.json").read_text())
        if old["tensorflow"] != tf.__version__:
            parser.error(f"{out} was made by TensorFlow {old['tensorflow']}: rewrite it all")
        entries = {entry["name"]: entry for entry in old["fixtures"]}
        for name in args.only:
            remove_fixture(name, out)
        kept = [
            path
            for path in old["stored_gzipped"]
            if not any(path.startswith((f"{n}.", f"{n}_run/")) for n in args.only)
        ]
    else:
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        entries, kept = {}, []
    for seed, spec in enumerate(FIXTURES):  # a fixture's seed is its place in FIXTURES
        if not args.only or spec[0] in args.only:
            entries[spec[0]] = write_fixture(spec, bundle_type, seed, out)
    manifest = [entries[name] for name in names if name in entries]
    packed = sorted(kept + gzip_large_files(out))
    (out / "manifest.json").write_text(
        json.dumps(
            {"tensorflow": tf.__version__, "fixtures": manifest, "stored_gzipped": packed},
            indent=1,
        )
        + "\n"
    )
    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"wrote {out} ({total:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
