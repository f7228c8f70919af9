"""Training an event RNN on a melody dataset, Magenta's way, resumable and reproducible.

Magenta's recipe (events_rnn_graph): Adam, output dropout after every LSTM layer, softmax
cross-entropy averaged over the real (unpadded) steps, and gradient clipping **per variable**
(tf_slim clips each gradient tensor by its own norm). On top of it: length-bucketed batches (little
padding), periodic evaluation with Magenta's metrics plus NLL on event steps, the best checkpoint
kept in our format, a JSON-lines metrics log, and resume after an interruption.

Reproducibility: the batch order of epoch ``e`` comes from ``(seed, e)`` and the dropout masks of
global step ``s`` from ``(seed, s)``, so a run resumed from its last saved state continues exactly
as the uninterrupted run would have.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from melodyrnn.constants import MELODY_NO_EVENT
from melodyrnn.encoding.specs import make_encoder
from melodyrnn.errors import ConfigError, DatasetError
from melodyrnn.files import atomic_path, write_bytes_atomically
from melodyrnn.limits import check_limit
from melodyrnn.models.checkpoint import save_checkpoint
from melodyrnn.models.configs import ModelConfig, get_config
from melodyrnn.models.folder import json_depth
from melodyrnn.models.rnn import EventRNN
from melodyrnn.training import distributed
from melodyrnn.training.dataset import MelodyDataset, open_dataset
from melodyrnn.training.shards import ShardedDataset
from melodyrnn.training.stream import (
    EncodedMelodies,
    Pieces,
    bucketed_batches,
    collate,
    epoch_plan,
    evaluate_model,
)

__all__ = [
    "EncodedMelodies",
    "Trainer",
    "TrainOptions",
    "bucketed_batches",
    "collate",
    "evaluate_model",
    "parse_hparams",
]

STATE_DIR = "state"
BEST_DIR = "best"
METRICS_LOG = "metrics.jsonl"


@dataclass
class TrainOptions:
    """Knobs of a run that are not model hyperparameters."""

    epochs: float = 10.0
    eval_every: int = 0  # steps between evaluations; 0: once per epoch
    save_every: int = 200  # steps between resumable state saves
    seed: int = 0
    threads: int | None = None
    max_steps: int | None = None  # stop after this many steps in total (e.g. to test resume)
    max_minutes: float | None = None  # stop (after saving) once training took this long
    chunk_steps: int | None = None  # train on pieces of this many steps (None: whole melodies)
    max_eval_steps: int | None = None  # evaluate on at most this many melodies' steps
    progress: bool = True
    shard_window: int = 8  # shards read together (and shuffled together) by each process
    device: str | None = None  # auto (a GPU when there is one), cpu, cuda
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        _number("epochs", self.epochs, low=0, open_low=True)
        _number("eval_every", self.eval_every, low=0, whole=True)
        _number("save_every", self.save_every, low=1, whole=True)
        _number("seed", self.seed, low=0, whole=True)
        for name in ("threads", "max_steps", "chunk_steps", "max_eval_steps", "shard_window"):
            if getattr(self, name) is not None:
                _number(name, getattr(self, name), low=1, whole=True)
        if self.max_minutes is not None:
            _number("max_minutes", self.max_minutes, low=0, open_low=True)


def _number(name: str, value, low: float, open_low: bool = False, whole: bool = False) -> None:
    """ConfigError naming ``name`` unless ``value`` is a finite number (an integer if ``whole``)
    above ``low`` (or at least ``low``)."""
    kind = "an integer" if whole else "a number"
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value > low if open_low else value >= low) and (not whole or value == int(value))
    if not ok:
        bound = f"> {low:g}" if open_low else f">= {low:g}"
        raise ConfigError(f"{{{name}}} must be {kind} {bound}, got {value!r}", parameters=(name,))


# --- the loop ---------------------------------------------------------------------------------


def clip_per_variable(model: torch.nn.Module, clip_norm: float) -> None:
    """tf_slim's clip_gradient_norms: each gradient tensor clipped by its own L2 norm."""
    if not clip_norm:
        return
    for p in model.parameters():
        if p.grad is not None:
            torch.nn.utils.clip_grad_norm_([p], clip_norm)


def parse_hparams(text: str | None) -> dict:
    """``"batch_size=64,rnn_layer_sizes=[256,256],learning_rate=0.003"`` -> dict."""
    out: dict = {}
    if not text:
        return out
    depth, token, parts = 0, "", []
    for ch in text:
        depth += ch == "["
        depth -= ch == "]"
        if ch == "," and depth == 0:
            parts.append(token)
            token = ""
        else:
            token += ch
    parts.append(token)
    for part in filter(None, (p.strip() for p in parts)):
        if "=" not in part:
            raise ConfigError(f"bad hparam {part!r}; write name=value, e.g. batch_size=64")
        key, value = (s.strip() for s in part.split("=", 1))
        check_limit("max_json_depth", json_depth(value.encode()), f"the value of hparam {key}")
        if value in ("None", "none", "null"):  # Python's, the CLI's and JSON's spelling
            out[key] = None
            continue
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    if "rnn_layer_sizes" in out:
        out["layer_sizes"] = out.pop("rnn_layer_sizes")
    return out


def no_event_of(config: ModelConfig) -> int:
    """The event meaning "nothing new happens": NO_EVENT for melodies, 0 for drums."""
    spec = config.encoder["target"] if config.encoder["type"] == "conditional" else config.encoder
    return 0 if spec["type"] == "drums" else -2


def _check_dataset(config: ModelConfig, ds: MelodyDataset | ShardedDataset) -> None:
    drums = no_event_of(config) != MELODY_NO_EVENT
    if drums or config.min_note is None or config.max_note is None:
        kind = "a drum model" if drums else "not a melody model"
        raise DatasetError(
            f"config {config.name} is {kind}; a melody dataset cannot train it "
            "(pick a melody config such as basic_rnn)"
        )
    s = ds.settings
    if (config.min_note, config.max_note) != (s.min_note, s.max_note):
        raise DatasetError(
            f"the dataset was built for notes {s.min_note}..{s.max_note}, but config "
            f"{config.name} needs {config.min_note}..{config.max_note}; rebuild the dataset "
            "with matching {min_note}/{max_note}",
            parameters=("min_note", "max_note"),
        )
    if config.transpose_to_key != s.transpose_to_key:
        raise DatasetError(
            f"the dataset's melodies {_keys(s.transpose_to_key)}, but config {config.name} "
            f"expects melodies that {_keys(config.transpose_to_key)}; rebuild the dataset with "
            f"{{transpose_to_key}} {_key_value(config.transpose_to_key)}, or train with "
            f"transpose_to_key={_key_value(s.transpose_to_key)} in {{hparams}}",
            parameters=("transpose_to_key", "hparams"),
        )


def _keys(key: int | None) -> str:
    return "keep their own keys" if key is None else f"are moved to key {key}"


def _key_value(key: int | None) -> str:
    return "none" if key is None else str(key)


def check_resumable(run_dir: Path, saved: ModelConfig, requested: ModelConfig) -> None:
    """ConfigError unless ``requested`` is the config of the run saved in ``run_dir``:
    resuming must never train another model than the one asked for."""
    have, want = saved.to_dict(), requested.to_dict()
    have.pop("description", None), want.pop("description", None)  # words, not the model
    if have == want:
        return
    if have["name"] != want["name"]:
        raise ConfigError(
            f"{run_dir} holds a run of config {have['name']}, not {want['name']}; resume it "
            f"with {{config}} {have['name']}, or train {want['name']} into another {{out}}",
            parameters=("config", "out"),
        )
    changed = ", ".join(
        f"{k}={json.dumps(have.get(k))} (asked: {json.dumps(want.get(k))})"
        for k in sorted(set(have) | set(want))
        if have.get(k) != want.get(k)
    )
    raise ConfigError(
        f"{run_dir} holds a run of {have['name']} with {changed}; resume it with the same "
        "{hparams}, or train into another {out}",
        parameters=("hparams", "out"),
    )


def saved_config_name(run_dir: str | os.PathLike) -> str | None:
    """The config name of the run saved in ``run_dir`` (None when it holds no run)."""
    saved = Path(run_dir) / STATE_DIR / "config.json"
    try:
        return str(json.loads(saved.read_text())["config"]["name"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


class Trainer:
    """One training run in ``run_dir``; construct, then call :meth:`train`.

    ``config`` (a name or a :class:`ModelConfig`, with ``hparams`` overrides) is the model to
    train; None means basic_rnn for a new run and the run's own config when ``run_dir`` holds
    one. A run is resumed only with its own config: another is a ConfigError.

    Under torchrun, every process constructs its own Trainer: the model is wrapped in
    DistributedDataParallel, each process takes the rows of every batch that lie in its own
    shards (:mod:`melodyrnn.training.stream`), and only the main process evaluates, writes the
    run folder and shows the progress bar. The batches do not depend on the number of
    processes, so a run resumes on any number of them.
    """

    def __init__(
        self,
        dataset: str | os.PathLike | MelodyDataset | ShardedDataset,
        run_dir: str | os.PathLike,
        config: str | ModelConfig | None = None,
        hparams: dict | None = None,
        options: TrainOptions | None = None,
    ):
        self.options = options or TrainOptions()
        self.run_dir = Path(run_dir)
        self.ds = (
            dataset
            if isinstance(dataset, MelodyDataset | ShardedDataset)
            else open_dataset(dataset)
        )
        saved = self.run_dir / STATE_DIR / "config.json"
        saved_config = None
        if saved.exists():  # resuming: only the run's own config (or none given) is accepted
            saved_config = ModelConfig.from_dict(json.loads(saved.read_text())["config"])
        if config is None:
            base = saved_config or get_config("basic_rnn")
        else:
            base = get_config(config) if isinstance(config, str) else config
        self.config = base.replace(**hparams) if hparams else base
        if saved_config is not None:
            check_resumable(self.run_dir, saved_config, self.config)
            self.config = saved_config
        _check_dataset(self.config, self.ds)
        self.encoder = make_encoder(self.config.encoder)
        self.no_event = no_event_of(self.config)
        opts = self.options
        window = max(opts.shard_window, 1)
        self.train_data = Pieces(
            self.ds,
            "train",
            self.encoder,
            self.no_event,
            chunk_steps=opts.chunk_steps,
            cache_shards=window + 2,
        )
        self.eval_data = Pieces(
            self.ds,
            "eval",
            self.encoder,
            self.no_event,
            max_steps=opts.max_eval_steps,
            # eval melodies of every shard stay (int8, a tenth of the data); their encodings
            # too when the dataset is small enough to train from the cache
            cache_shards=1 << 30,
            keep_encoded=self.train_data.num_shards <= window + 2,
        )
        if not len(self.train_data):
            raise DatasetError("the dataset has no training melodies")
        self.processes = distributed.setup(opts.device)
        torch.manual_seed(opts.seed)
        self.model = EventRNN.from_config(self.config).to(self.processes.device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=self.config.learning_rate)
        self.step = 0
        self.best_loss = math.inf
        self.elapsed = 0.0
        self._resume()
        self.network = self.model
        if self.processes.distributed:
            from torch.nn.parallel import DistributedDataParallel

            cuda = self.processes.device.type == "cuda"
            self.network = DistributedDataParallel(
                self.model, device_ids=[self.processes.device] if cuda else None
            )

    @property
    def is_main(self) -> bool:
        """The process that writes the run folder (the only one without torchrun)."""
        return self.processes.main

    # -- state ------------------------------------------------------------------------

    def _resume(self) -> None:
        state_dir = self.run_dir / STATE_DIR
        if not (state_dir / "trainer.json").exists():
            return
        meta = json.loads((state_dir / "trainer.json").read_text())
        tensors = load_file(str(state_dir / "state.safetensors"))
        self.model.load_state_dict({k[6:]: v for k, v in tensors.items() if k[:6] == "model."})
        opt_state = self.optimizer.state_dict()
        for i, _ in enumerate(self.model.parameters()):
            if f"opt.{i}.exp_avg" in tensors:
                opt_state["state"][i] = {
                    "step": tensors[f"opt.{i}.step"],
                    "exp_avg": tensors[f"opt.{i}.exp_avg"],
                    "exp_avg_sq": tensors[f"opt.{i}.exp_avg_sq"],
                }
        self.optimizer.load_state_dict(opt_state)
        self.step = int(meta["step"])
        self.best_loss = float(meta["best_loss"])
        self.elapsed = float(meta.get("elapsed", 0.0))

    def _save_state(self) -> None:
        if not self.is_main:
            return
        state_dir = self.run_dir / STATE_DIR
        state_dir.mkdir(parents=True, exist_ok=True)
        tensors = {f"model.{k}": v.detach().cpu() for k, v in self.model.state_dict().items()}
        for i, st in self.optimizer.state_dict()["state"].items():
            tensors[f"opt.{i}.step"] = torch.as_tensor(st["step"], dtype=torch.float32).reshape(1)
            tensors[f"opt.{i}.exp_avg"] = st["exp_avg"].cpu()
            tensors[f"opt.{i}.exp_avg_sq"] = st["exp_avg_sq"].cpu()
        with atomic_path(state_dir / "state.safetensors") as tmp:
            save_file({k: v.cpu().contiguous() for k, v in tensors.items()}, str(tmp))
        meta = {"step": self.step, "best_loss": self.best_loss, "elapsed": self.elapsed}
        (state_dir / "config.json").write_text(json.dumps({"config": self.config.to_dict()}))
        write_bytes_atomically(state_dir / "trainer.json", json.dumps(meta).encode())

    def _log(self, record: dict) -> None:
        if not self.is_main:
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with open(self.run_dir / METRICS_LOG, "a") as f:
            f.write(json.dumps(record) + "\n")

    # -- loop -------------------------------------------------------------------------

    def steps_per_epoch(self) -> int:
        return math.ceil(len(self.train_data) / self.config.batch_size)

    def evaluate(self) -> dict:
        return evaluate_model(self.model, self.eval_data, self.encoder.default_event_label)

    def _save_best(self, epoch: float, metrics: dict | None) -> None:
        model = self.model
        if self.processes.device.type != "cpu":
            import copy

            model = copy.deepcopy(self.model).cpu()
        save_checkpoint(
            model,
            self.config,
            self.run_dir / BEST_DIR,
            metadata=self._metadata(epoch, metrics),
            force=True,
        )

    def _eval_and_keep_best(self, epoch: float) -> dict | None:
        if not self.is_main:  # the main process evaluates; the others wait for it in the
            return None  # next step's gradient exchange
        if not len(self.eval_data):  # nothing to choose by: keep the latest model
            self._save_best(epoch, None)
            return None
        metrics = self.evaluate()
        self._log({"step": self.step, "epoch": round(epoch, 3), "split": "eval", **metrics})
        if metrics["loss"] < self.best_loss:
            self.best_loss = metrics["loss"]
            self._save_best(epoch, metrics)
        return metrics

    def _metadata(self, epoch: float, metrics: dict | None) -> dict:
        return {
            "step": self.step,
            "epoch": round(epoch, 3),
            "training_seconds": round(self.elapsed, 1),
            "eval_metrics": metrics,
            "dataset": {
                "source": self.ds.info.get("source"),
                "train_melodies": int((self.ds.split == 0).sum()),
                "train_pieces": len(self.train_data),
                "train_steps": self.train_data.num_steps,
                "eval_melodies": len(self.eval_data),
                "eval_steps": self.eval_data.num_steps,
            },
            "seed": self.options.seed,
            **({"processes": self.processes.world} if self.processes.distributed else {}),
        }

    def plan(self, epoch: int) -> list:
        """The batches of ``epoch`` (piece indices), the same for any number of processes."""
        rng = np.random.default_rng([self.options.seed, epoch])
        return epoch_plan(
            self.train_data.lengths,
            self.train_data.shard,
            self.config.batch_size,
            rng,
            self.options.shard_window,
        )

    def train(self) -> dict | None:
        """Run until ``options.epochs`` (or ``max_steps``); returns the last eval metrics."""
        from tqdm import tqdm

        opts = self.options
        old_threads = torch.get_num_threads()
        if opts.threads:
            torch.set_num_threads(opts.threads)
        per_epoch = self.steps_per_epoch()
        total = math.ceil(opts.epochs * per_epoch)
        if opts.max_steps is not None:
            total = min(total, opts.max_steps)
        eval_every = opts.eval_every or per_epoch
        bar = tqdm(  # no bar when stderr is not a terminal, none but on the main process
            total=total,
            initial=self.step,
            desc="training",
            disable=None if opts.progress and self.is_main else True,
        )
        self.network.train()
        last_eval = None
        if opts.max_minutes and self.elapsed > 60 * opts.max_minutes:
            total = self.step  # a resumed run that already used its time: nothing to do
        try:
            while self.step < total:
                epoch = self.step // per_epoch
                for index in self.plan(epoch)[self.step - epoch * per_epoch :]:
                    if self.step >= total:
                        break
                    t0 = time.perf_counter()
                    loss = self._train_step(index)
                    self.elapsed += time.perf_counter() - t0
                    self.step += 1
                    bar.update()
                    bar.set_postfix(loss=f"{loss:.3f}", epoch=f"{self.step / per_epoch:.2f}")
                    if self.step % 50 == 0:
                        self._log({"step": self.step, "split": "train", "loss": loss})
                    if self.step % eval_every == 0 or self.step == total:
                        last_eval = self._eval_and_keep_best(self.step / per_epoch)
                        if last_eval:
                            bar.write(
                                f"step {self.step}: eval loss {last_eval['loss']:.4f}, "
                                f"event NLL {last_eval['nll_event']:.4f}, "
                                f"accuracy {last_eval['accuracy']:.3f}"
                            )
                    out_of_time = opts.max_minutes and self.elapsed > 60 * opts.max_minutes
                    if opts.max_minutes:  # every process stops at the same step
                        out_of_time = distributed.any_process(out_of_time, self.processes)
                    if out_of_time and self.step % eval_every:
                        last_eval = self._eval_and_keep_best(self.step / per_epoch)
                    if self.step % opts.save_every == 0 or self.step == total or out_of_time:
                        self._save_state()
                    if out_of_time:
                        if self.is_main:
                            bar.write(f"stopping after {self.elapsed / 60:.1f} minutes of training")
                        return last_eval
        finally:
            bar.close()
            torch.set_num_threads(old_threads)
        return last_eval

    def _train_step(self, index) -> float:
        processes = self.processes
        device = processes.device
        if not processes.distributed:
            x, y, mask = collate(self.train_data, index)
            torch.manual_seed(hash((self.options.seed, self.step)) & 0x7FFFFFFF)
            logits, _ = self.network(x.to(device))
            loss = torch.nn.functional.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), y.to(device).reshape(-1), ignore_index=-100
            )
            reported = None
        else:
            # This process's rows; the loss is summed over them and divided by the real steps
            # of the whole batch, times the number of processes (DDP averages the gradients):
            # the gradient of the whole batch's mean, as one process computes it.
            mine = index[self.train_data.owner[index] % processes.world == processes.rank]
            steps = int(self.train_data.lengths[index].sum())
            torch.manual_seed(hash((self.options.seed, self.step, processes.rank)) & 0x7FFFFFFF)
            if len(mine):
                x, y, mask = collate(self.train_data, mine)
                logits, _ = self.network(x.to(device))
                total = torch.nn.functional.cross_entropy(
                    logits.reshape(-1, logits.shape[-1]),
                    y.to(device).reshape(-1),
                    ignore_index=-100,
                    reduction="sum",
                )
            else:  # no rows here this step: take part in the gradient exchange with zeros
                logits, _ = self.network(torch.zeros(1, 1, self.encoder.input_size, device=device))
                total = logits.sum() * 0.0
            loss = total * (processes.world / steps)
            reported = distributed.all_sum(float(total.detach()), processes) / steps
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        clip_per_variable(self.model, self.config.clip_norm)
        self.optimizer.step()
        return loss.item() if reported is None else reported
