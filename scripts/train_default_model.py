"""Train, evaluate and package melodyrnn's default model (melodyrnn/pretrained/folk_rnn).

Every step is resumable and skipped when its output exists:

1. the folk corpus (scripts/build_folk_corpus.py: O'Neill's, Ryan's, Aird's, miscFolk);
2. the dataset (``melodyrnn dataset --keep-highest``: Magenta's training settings, the top note
   kept where notes start together, a 10 % eval split by file with near-duplicates together);
3. training (lookback_rnn inputs, 2x256 LSTM, 128-step pieces, at most ``--minutes`` of
   training time on one thread);
4. evaluation on the held-out split next to an order-selected Kneser-Ney n-gram;
5. the package folder: config.json + model.safetensors + MODEL_CARD.md with the numbers.

    python scripts/train_default_model.py            # all of it, about an hour on 2 cores
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from melodyrnn.models.registry import DEFAULT_MODEL, PRETRAINED_DIR  # noqa: E402
from melodyrnn.pipelines import DatasetSettings  # noqa: E402
from melodyrnn.training.dataset import build_dataset, format_report, save_dataset  # noqa: E402
from melodyrnn.training.evaluate import evaluate_models, format_evaluation  # noqa: E402
from melodyrnn.training.train import Trainer, TrainOptions  # noqa: E402

CONFIG = "lookback_rnn"
HPARAMS = {
    "layer_sizes": [256, 256],
    "dropout_keep_prob": 0.9,
    "learning_rate": 0.002,
    "batch_size": 32,
}
CHUNK_STEPS = 128
BAR = 0.10  # the LSTM must be at least 10 % below the n-gram, per step and on event steps


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", default="data/folk_midi")
    parser.add_argument("--dataset", default="data/folk_keep_highest")
    parser.add_argument("--run", default="runs/folk_rnn")
    parser.add_argument("--minutes", type=float, default=45.0, help="training time budget")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num", type=int, default=100, help="primers for musical metrics")
    parser.add_argument("--out", default=str(PRETRAINED_DIR / DEFAULT_MODEL))
    args = parser.parse_args()

    corpus, dataset, run = Path(args.corpus), Path(args.dataset), Path(args.run)
    if not (corpus / "manifest.jsonl").exists():
        subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "build_folk_corpus.py"), str(corpus)],
            check=True,
        )
    if not (dataset / "dataset.json").exists():
        ds = build_dataset(corpus, DatasetSettings(keep_highest=True, seed=args.seed))
        save_dataset(ds, dataset)
        print(format_report(ds))

    options = TrainOptions(
        epochs=1000,
        seed=args.seed,
        threads=1,
        max_minutes=args.minutes,
        chunk_steps=CHUNK_STEPS,
    )
    trainer = Trainer(dataset, run, CONFIG, dict(HPARAMS), options)
    trainer.train()

    out = Path(args.out)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for name in ("config.json", "model.safetensors"):
        shutil.copy2(run / "best" / name, out / name)

    started = time.time()
    result = evaluate_models([out], dataset, baseline="markov", num=args.num)
    report = format_evaluation(result)
    print(report)
    print(f"evaluation took {time.time() - started:.0f} s")
    (out / "MODEL_CARD.md").write_text(model_card(run, dataset, result, report, out.name))
    print(f"wrote {out}")
    return 0


def model_card(run: Path, dataset: Path, result: dict, report: str, name: str) -> str:
    checkpoint = json.loads((run / "best" / "config.json").read_text())
    config, meta = checkpoint["config"], checkpoint["metadata"]
    ds_info = json.loads((dataset / "dataset.json").read_text())
    corpus = dataset_corpus_info(ds_info)
    lstm = result["likelihood"][name]
    run_state = json.loads((run / "state" / "trainer.json").read_text())
    ngram = result["likelihood"]["n-gram"]
    gain = 1 - lstm["loss"] / ngram["loss"]
    gain_event = 1 - lstm["nll_event"] / ngram["nll_event"]
    met = gain >= BAR and gain_event >= BAR
    event_diff = f"{-100 * gain_event:+.1f} %"
    params = sum(
        size
        for size in _param_sizes(config["input_size"], config["layer_sizes"], config["num_classes"])
    )
    weights_mb = (run / "best" / "model.safetensors").stat().st_size / 1e6
    d = meta["dataset"]
    return f"""# folk_rnn: melodyrnn's default melody model

A `{config["name"]}` model (Magenta's lookback encoding: the event one and two bars ago, a
binary bar counter and "repeat" labels) with an LSTM of {config["layer_sizes"]}, trained by
melodyrnn on public-domain folk tunes. `MusicRNN.from_pretrained()` and `melodyrnn continue`
load it when no model is named.

## Data

- Source: the ABC folk collections inside the music21 wheel{corpus}: O'Neill's Music
  of Ireland (1850), Ryan's Mammoth Collection, Aird's Airs and miscFolk, public domain by age.
  The Essen collection is left out (its licence is non-commercial, within music21 only).
  Converted to MIDI with abc2midi (`scripts/build_folk_corpus.py`); exact duplicate tunes removed.
- MIDI files: {ds_info["files_read"]} read, {ds_info["files_failed"]} failed.
- Melodies: Magenta's training extraction (at least 7 bars, at most 512 steps, at least 5 pitch
  classes, gap 1 bar), the top note kept where notes start together (`--keep-highest`), then
  squashed into 48-83 and C major: {ds_info["melodies"]} melodies, {ds_info["steps"]} steps.
- Split: {ds_info["eval_files"]} of {ds_info["eval_files"] + ds_info["train_files"]} files
  held out (10 %, seed 0, by file). {ds_info["near_duplicate_files"]} files in
  {ds_info["near_duplicate_groups"]} near-duplicate groups (the same title, or the same first
  two bars after squashing: the collections share many tunes) were kept on one side of it.
  Training: {ds_info["train_melodies"]} melodies, {ds_info["train_steps"]} steps ({d["train_steps"]}
  labelled); evaluation: {ds_info["eval_melodies"]} melodies, {ds_info["eval_steps"]} steps
  ({d["eval_steps"]} labelled: the first step of a melody is not predicted).

## Model and training

- Config `{config["name"]}`: input {config["input_size"]}, {config["num_classes"]} classes,
  LSTM {config["layer_sizes"]}, output dropout keep {config["dropout_keep_prob"]},
  {params:,} parameters ({weights_mb:.1f} MB of float32 weights).
- Adam, learning rate {config["learning_rate"]}, batch {config["batch_size"]} pieces of
  {CHUNK_STEPS} steps, per-tensor gradient clipping at {config["clip_norm"]} (as Magenta).
- The shipped checkpoint is the one with the lowest held-out loss: after
  {meta["training_seconds"] / 60:.1f} minutes of training ({meta["step"]} steps,
  {meta["epoch"]} epochs) on one CPU thread of a 2-core AMD EPYC machine
  ({platform.python_implementation()} {platform.python_version()}, torch {torch.__version__}).
  The run went on to {run_state["step"]} steps ({run_state["elapsed"] / 60:.1f} minutes of
  training) and was stopped once the held-out loss had risen for an epoch.

## How the settings were chosen

Pilot runs on this corpus (2 cores, one thread each, the same held-out split used to pick the
checkpoint) showed: whole 512-step melodies in batches of 64 give only ~62 updates per epoch
and learn slowly (eval loss 1.30 after 4 epochs); 128-step pieces in batches of 32 (~330
updates per epoch) reach 1.00 in the same time. lookback_rnn was preferred to basic_rnn for its
bar-position counter and one/two-bar repeat inputs (folk tunes repeat bars). A 2x384 LSTM was
too slow for the budget (one epoch in ~9 minutes). The shipped run was one of two trained side
by side for at most 45 minutes each (dropout keep 0.9 / learning rate 0.002 and keep 0.8 /
0.003); the one with the lower held-out loss is shipped, so the held-out numbers below are
slightly optimistic for this reason too.

## Held-out results

Next-event prediction on the evaluation split (teacher forced), next to an interpolated
modified Kneser-Ney n-gram over the same 38 melody tokens, its order chosen on the same split
(order {result["baseline"]["order"]}):

| metric | folk_rnn | n-gram | difference |
| --- | --- | --- | --- |
| NLL per step (nats) | {lstm["loss"]:.4f} | {ngram["loss"]:.4f} | {-100 * gain:+.1f} % |
| NLL on event steps (nats) | {lstm["nll_event"]:.4f} | {ngram["nll_event"]:.4f} | {event_diff} |
| perplexity | {lstm["perplexity"]:.3f} | {ngram["perplexity"]:.3f} | |
| accuracy | {lstm["accuracy"]:.3f} | {ngram["accuracy"]:.3f} | |
| event accuracy | {lstm["event_accuracy"]:.3f} | {ngram["event_accuracy"]:.3f} | |

Quality bar (at least 10 % below the n-gram per step and on event steps):
**{"met" if met else "NOT met"}** ({100 * gain:.1f} % and {100 * gain_event:.1f} %).
Event steps are the steps whose event is a note-on or note-off (not "no event"), the same steps
for both models. The lookback model's repeat labels stand for events, so its per-step
probabilities are probabilities of the same event sequences the n-gram scores.

Reproduce: `melodyrnn evaluate --data {dataset} --num {result["settings"]["num"]}` (after
`scripts/train_default_model.py` built the dataset). The full report:

```
{report}
```

## Use and limits

- Continues monophonic melodies, best in the idiom it learned (reels, jigs, hornpipes, airs,
  mostly major and modal); any key and register work, since primers are squashed into C major
  and 48-83 and the continuation is moved back.
- It knows nothing about harmony, dynamics or expressive timing; it plays 16th-note steps.
- Trained on printed tune collections: expect folk-like phrasing whatever the primer.
"""


def dataset_corpus_info(ds_info: dict) -> str:
    info_path = Path(ds_info.get("source", "")) / "corpus_info.json"
    if info_path.exists():
        info = json.loads(info_path.read_text())
        return f" ({info.get('wheel', 'music21')})"
    return ""


def _param_sizes(input_size: int, layers: list[int], classes: int):
    previous = input_size
    for h in layers:
        yield (previous + h) * 4 * h + 4 * h
        previous = h
    yield previous * classes + classes


if __name__ == "__main__":
    sys.exit(main())
