"""Fitting the n-gram baseline on melodies or on a dataset (with its order chosen on held-out data).

The result is a :class:`~melodyrnn.generation.music_rnn.MusicRNN` like any other: the melody
event family of basic_rnn's one-hot labels plus an :class:`~melodyrnn.models.ngram_net.NGramNet`,
so it continues, scores and saves (``model.save(path)``) the way an LSTM does, and
``melodyrnn continue --model PATH`` / ``melodyrnn evaluate`` load it from its folder.
"""

from __future__ import annotations

import numpy as np

from melodyrnn.encoding.specs import make_encoder
from melodyrnn.errors import DatasetError
from melodyrnn.events.melody import Melody
from melodyrnn.generation.music_rnn import MusicRNN
from melodyrnn.models.ngram import NGramModel, select_order
from melodyrnn.models.ngram_net import MarkovConfig, NGramNet, check_network_config
from melodyrnn.training.dataset import MelodyDataset, load_dataset

__all__ = ["fit_ngram_model", "train_ngram_model"]


def _model(ngram: NGramModel, config: MarkovConfig, metadata: dict | None) -> MusicRNN:
    net = NGramNet(ngram)
    check_network_config(net, config)
    return MusicRNN(net, config, metadata)


def fit_ngram_model(
    melodies,
    order: int = 5,
    *,
    squash: bool = True,
    config: MarkovConfig | None = None,
    discount=None,
    modified: bool = True,
    metadata: dict | None = None,
) -> MusicRNN:
    """Fit an order-``order`` model on melody event arrays.

    With ``squash`` each melody is first squashed into the config's range and key (as the
    dataset and primer code do); give ``squash=False`` for melodies that already are.
    """
    config = config or MarkovConfig(order=order)
    if config.order != order:
        config = MarkovConfig(**{**config.to_dict(), "order": order})
    arrays = [np.asarray(m, dtype=np.int64) for m in melodies]
    if squash:
        arrays = [_squashed(m, config) for m in arrays]
    encoder = make_encoder(config.encoder)
    tokens = [encoder.labels(m) for m in arrays if len(m)]
    ngram = NGramModel(order, config.num_classes, discount=discount, modified=modified)
    return _model(ngram.fit(tokens), config, metadata)


def train_ngram_model(
    dataset, orders=range(1, 12), *, discount=None, modified: bool = True
) -> tuple[MusicRNN, list[dict]]:
    """Fit on a dataset's train split, choosing the order on its eval split.

    ``dataset`` is a :class:`~melodyrnn.training.dataset.MelodyDataset` or a dataset folder.
    Returns the
    model (fitted on the train split at the best order) and :func:`select_order`'s table.
    """
    ds = dataset if isinstance(dataset, MelodyDataset) else load_dataset(dataset)
    s = ds.settings
    config = MarkovConfig(
        order=1,
        min_note=s.min_note,
        max_note=s.max_note,
        transpose_to_key=s.transpose_to_key,
        steps_per_quarter=s.steps_per_quarter,
    )
    encoder = make_encoder(config.encoder)
    train = [encoder.labels(m.astype(np.int64)) for m in ds.melodies("train") if len(m)]
    evals = [encoder.labels(m.astype(np.int64)) for m in ds.melodies("eval") if len(m) > 1]
    orders = [int(k) for k in orders]
    if not train:
        raise DatasetError("the dataset has no training melodies to fit the n-gram on")
    if len(orders) > 1 and not evals:
        raise DatasetError(
            "the dataset has no eval melodies to choose the n-gram order on; rebuild it "
            "with {eval_fraction} > 0 or give a single order",
            parameters=("eval_fraction",),
        )
    if len(orders) > 1:
        best, table = select_order(
            train,
            evals,
            config.num_classes,
            orders,
            default_label=encoder.default_event_label,
            discount=discount,
            modified=modified,
        )
    else:
        best, table = orders[0], []
    config = MarkovConfig(**{**config.to_dict(), "order": best})
    ngram = NGramModel(best, config.num_classes, discount=discount, modified=modified)
    metadata = {
        "dataset": ds.info.get("source"),
        "train_melodies": len(train),
        "eval_melodies": len(evals),
        "order_selection": [{"order": row["order"], "loss": row["loss"]} for row in table],
    }
    return _model(ngram.fit(train), config, metadata), table


def _squashed(events: np.ndarray, config: MarkovConfig) -> np.ndarray:
    melody = Melody.from_array(events)
    melody.squash(config.min_note, config.max_note, config.transpose_to_key)
    return melody.to_array()
