"""Verbs about models and data: dataset, train, convert, evaluate."""

from __future__ import annotations

import argparse

from melodyrnn.cli.verbs import parse_range, print_json, verb

# --- dataset / train / convert ---------------------------------------------------------------


def _add_dataset(p: argparse.ArgumentParser) -> None:
    p.add_argument("midi_dir", help="a folder of .mid/.midi files (searched recursively)")
    p.add_argument("out", help="the dataset folder to write")
    p.add_argument("--min-note", type=int, default=48, help="lowest pitch of the model (48)")
    p.add_argument("--max-note", type=int, default=84, help="pitch above the highest (84)")
    p.add_argument(
        "--key",
        help="key melodies are moved to, 0-11 (C=0), or none to keep their keys "
        "(0; none when --transpose is given)",
    )
    p.add_argument(
        "--keep-highest",
        action="store_true",
        help="keep the top note where notes start together (Magenta drops such tracks)",
    )
    p.add_argument(
        "--transpose",
        default="0",
        help="comma-separated transpositions for augmentation, e.g. -2,0,2 (0)",
    )
    p.add_argument("--eval-fraction", type=float, default=0.1, help="files held out (0.1)")
    p.add_argument("--seed", type=int, default=0, help="seed of the split (0)")
    p.add_argument("--jobs", type=int, help="worker processes (all cores)")
    p.add_argument(
        "--files-per-shard",
        type=int,
        default=500,
        help="source files per shard (500); an interrupted build resumes by the shard",
    )
    p.add_argument("--force", action="store_true", help="overwrite an existing dataset")


@verb("dataset", _add_dataset, "build a training dataset of melodies from a MIDI folder")
def _run_dataset(args) -> int:
    from melodyrnn.errors import DatasetError
    from melodyrnn.pipelines import DatasetSettings
    from melodyrnn.training.build import build_sharded
    from melodyrnn.training.dataset import format_report

    try:
        transpositions = tuple(int(t) for t in args.transpose.split(","))
        if args.key is None:  # augmentation only survives if melodies keep their keys
            key = None if transpositions != (0,) else 0
        else:
            key = None if args.key.lower() == "none" else int(args.key)
    except ValueError:
        raise DatasetError("--key takes 0-11 or none; --transpose integers like -2,0,2") from None
    settings = DatasetSettings(
        min_note=args.min_note,
        max_note=args.max_note,
        transpose_to_key=key,
        keep_highest=args.keep_highest,
        transpositions=transpositions,
        eval_fraction=args.eval_fraction,
        seed=args.seed,
    )
    ds = build_sharded(
        args.midi_dir,
        args.out,
        settings,
        jobs=args.jobs,
        files_per_shard=args.files_per_shard,
        force=args.force,
        on_resume=lambda done, total: print(f"resuming: {done} of {total} files already read"),
    )
    print(format_report(ds))
    if key is None and args.key is None:
        print("melodies keep their own keys (--key none), so the transpositions are kept too")
    print(f"wrote {args.out} ({ds.num_shards} shards)")
    return 0


def _add_train(p: argparse.ArgumentParser) -> None:
    p.add_argument("dataset", help="a dataset folder from `melodyrnn dataset`")
    p.add_argument(
        "--config",
        help="model config, or markov for the n-gram baseline (basic_rnn; when resuming, "
        "the run's own)",
    )
    p.add_argument(
        "--out", required=True, help="run folder (resumes if it holds a run of this config)"
    )
    p.add_argument(
        "--hparams",
        help="overrides, e.g. batch_size=64,rnn_layer_sizes=[256,256],learning_rate=0.002",
    )
    p.add_argument("--epochs", type=float, default=10.0, help="epochs to train (10)")
    p.add_argument("--max-minutes", type=float, help="stop after this much training time")
    p.add_argument("--eval-every", type=int, default=0, help="steps between evals (per epoch)")
    p.add_argument("--seed", type=int, default=0, help="seed (0)")
    p.add_argument("--threads", type=int, help="torch threads")
    p.add_argument(
        "--chunk-steps",
        type=int,
        help="train on pieces of this many steps (more updates per epoch); default: whole melodies",
    )
    p.add_argument(
        "--device", default="auto", help="auto (a GPU when there is one), cpu or cuda (auto)"
    )
    p.add_argument(
        "--shard-window",
        type=int,
        default=8,
        help="shards of a sharded dataset each process reads and shuffles together (8)",
    )
    p.add_argument(
        "--force", action="store_true", help="--config markov: overwrite an existing --out"
    )


def _train_hparams(args) -> dict:
    """``--hparams`` as a dict, checked against the config now (so a bad value is named as
    ``--hparams`` before anything is read or written)."""
    from melodyrnn.errors import ConfigError
    from melodyrnn.models.configs import CONFIGS, get_config
    from melodyrnn.training.train import parse_hparams, saved_config_name

    hparams = parse_hparams(args.hparams)
    name = args.config or saved_config_name(args.out) or "basic_rnn"
    if name in CONFIGS:
        try:
            get_config(name, **hparams)
        except ConfigError as exc:
            raise ConfigError(f"--hparams: {exc.worded()}") from None
    return hparams


def _keep_keys(args, hparams: dict, dataset) -> dict:
    """A dataset built with ``--key none`` (augmentation) trains a melody config without key
    normalisation unless ``--hparams`` says otherwise."""
    from melodyrnn.models.configs import CONFIGS
    from melodyrnn.training.train import saved_config_name

    name = args.config or saved_config_name(args.out) or "basic_rnn"
    config = CONFIGS.get(name)
    keeps_keys = dataset.settings.transpose_to_key is None
    if config is None or not keeps_keys or "transpose_to_key" in hparams:
        return hparams
    if config.transpose_to_key is not None:
        print(
            f"the dataset keeps each melody's key (built with --key none): training {name} "
            "without key normalisation (transpose_to_key=none)"
        )
    return {**hparams, "transpose_to_key": None}


@verb("train", _add_train, "train a model on a dataset (resumable)")
def _run_train(args) -> int:
    from melodyrnn.files import prepare_output_dir
    from melodyrnn.training import distributed
    from melodyrnn.training.dataset import open_dataset
    from melodyrnn.training.train import Trainer, TrainOptions

    if args.config == "markov":
        return _train_markov(args)
    options = TrainOptions(
        epochs=args.epochs,
        eval_every=args.eval_every,
        seed=args.seed,
        threads=args.threads,
        max_minutes=args.max_minutes,
        chunk_steps=args.chunk_steps,
        shard_window=args.shard_window,
        device=args.device,
    )
    hparams = _train_hparams(args)
    prepare_output_dir(args.out, "run folder", create=False)
    dataset = open_dataset(args.dataset)
    hparams = _keep_keys(args, hparams, dataset)
    try:  # under torchrun: one process of many (see melodyrnn.training.distributed)
        trainer = Trainer(dataset, args.out, args.config, hparams, options)
        if trainer.step and trainer.is_main:
            print(f"resuming {args.out} at step {trainer.step}")
        metrics = trainer.train()
    finally:
        distributed.shutdown()
    if not trainer.is_main:
        return 0
    if metrics:
        print(
            f"eval: loss {metrics['loss']:.4f} nats/step, event NLL {metrics['nll_event']:.4f}, "
            f"accuracy {metrics['accuracy']:.3f}"
        )
    print(f"best checkpoint: {trainer.run_dir / 'best'}")
    return 0


def _train_markov(args) -> int:
    """``train DATASET --config markov --out DIR``: the n-gram baseline, its order chosen on the
    dataset's eval split, saved as a folder ``--model markov:DIR`` (or ``DIR``) loads."""
    from pathlib import Path

    from melodyrnn.errors import ConfigError
    from melodyrnn.files import prepare_output_dir
    from melodyrnn.training.ngram import train_ngram_model

    if args.hparams:
        raise ConfigError("--config markov takes no --hparams (its order is chosen on the data)")
    out = Path(args.out)
    if (out.exists() or out.is_symlink()) and not args.force:
        raise ConfigError(f"{out} exists; use --force to overwrite it, or another --out")
    prepare_output_dir(out.parent, "folder of --out", create=False)
    model, table = train_ngram_model(args.dataset)
    for row in table:
        print(f"order {row['order']:2d}: eval loss {row['loss']:.4f} nats/step")
    model.save(out, force=args.force)
    print(f"n-gram of order {model.network.order}: wrote {out} (use --model markov:{out})")
    return 0


def _add_convert(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "src", help="a magenta.js checkpoint folder, a Magenta .mag bundle or TF checkpoint"
    )
    p.add_argument("dst", help="the checkpoint folder to write, in melodyrnn's format")
    p.add_argument("--force", action="store_true", help="overwrite an existing folder")


@verb("convert", _add_convert, "convert a magenta.js checkpoint to melodyrnn's format")
def _run_convert(args) -> int:
    from melodyrnn.generation.music_rnn import MusicRNN

    rnn = MusicRNN.from_pretrained(args.src)
    rnn.save(args.dst, force=args.force)
    print(
        f"wrote {args.dst}: config {rnn.config.name} ({rnn.kind}), "
        f"encoder {rnn.config.encoder['type']}"
    )
    return 0


# --- evaluate --------------------------------------------------------------------------------


def _add_evaluate(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "model",
        nargs="*",
        help="models to evaluate: shipped names, checkpoint folders or markov:PATH "
        "(default: the shipped model)",
    )
    p.add_argument(
        "--data", required=True, help="a dataset folder (its eval split) or a MIDI folder"
    )
    p.add_argument(
        "--baseline",
        default="markov",
        help="markov (fit an n-gram on the dataset's train split), markov:PATH, or none",
    )
    p.add_argument("--num", type=int, default=50, help="primers for the musical metrics (50)")
    p.add_argument("--steps", type=int, default=64, help="steps generated per primer (64)")
    p.add_argument("--temperature", type=float, default=1.0, help="for generation (1.0)")
    p.add_argument("--seed", type=int, default=0, help="seed (0)")
    p.add_argument(
        "--continuations",
        action="store_true",
        help="instead: continue --num held-out melodies cut in half and compare them with the "
        "real second halves; --key-finding, --ending, --top-p and --range as for continue",
    )
    p.add_argument("--key-finding", choices=["profile", "magenta"], default="profile")
    p.add_argument("--ending", choices=["free", "bar", "tonic"], default="free")
    p.add_argument("--top-p", type=float)
    p.add_argument("--range", dest="pitch_range", metavar="LO-HI")
    p.add_argument("--json", action="store_true", help="print the results as JSON")


@verb("evaluate", _add_evaluate, "compare models and the n-gram baseline on held-out melodies")
def _run_evaluate(args) -> int:
    from melodyrnn.training.evaluate import evaluate_models, format_evaluation

    baseline = None if args.baseline.lower() == "none" else args.baseline
    if args.continuations:
        return _evaluate_continuations(args, baseline)
    result = evaluate_models(
        args.model or [None],
        args.data,
        baseline=baseline,
        num=args.num,
        steps=args.steps,
        temperature=args.temperature or None,
        seed=args.seed,
        describe_models=not args.json,  # the JSON stays as it was (recorded hashes)
    )
    if args.json:
        print_json(result)
    else:
        print(format_evaluation(result))
    return 0


def _evaluate_continuations(args, baseline) -> int:
    from melodyrnn.training.continuations import continuation_report, format_continuations

    result = continuation_report(
        args.model or [None],
        args.data,
        baseline,
        num=args.num,
        temperature=args.temperature or None,
        seed=args.seed,
        key_finding=args.key_finding,
        ending=args.ending,
        top_p=args.top_p,
        pitch_range=parse_range(args.pitch_range),
    )
    print_json(result) if args.json else print(format_continuations(result))
    return 0
