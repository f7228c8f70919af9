"""Magenta's attention_rnn melody encoder/decoder: sounding pitch, attack, direction and key.

Each input row describes the melody so far (the sounding pitch, whether a note was struck,
the direction of the last pitch change, lookback repeats, a step counter, bar starts and the
major keys that fit the notes played), with labels that put pitches first. Magenta's quirks are
reproduced exactly (attack cleared by NO_EVENT but not NOTE_OFF, pitch 0 counted as silence,
the hard-coded 16-step bar), so its checkpoints see the inputs they were trained on. Every
feature is computed with cumulative numpy operations over all steps (or only the last step of
each history row at generation time); no Python loop runs per step.

Neighbours: the plain lookback encoding is :mod:`~melodyrnn.encoding.lookback`, whose argument
check this shares; the melody range checks come from :mod:`~melodyrnn.encoding.one_hot`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from melodyrnn.constants import (
    KEY_MATRIX,
    MAGENTA_STEPS_PER_BAR,
    NO_EVENT,
    NOTE_OFF,
    NOTES_PER_OCTAVE,
    NUM_SPECIAL_MELODY_EVENTS,
)
from melodyrnn.encoding.arrays import binary_counter, one_hot
from melodyrnn.encoding.base import EncoderDecoder
from melodyrnn.encoding.lookback import check_lookbacks
from melodyrnn.encoding.one_hot import check_melody_events, check_note_range


class KeyMelodyEncoderDecoder(EncoderDecoder):
    """Magenta's attention_rnn melody encoding (74 inputs, 40 labels for 48..84).

    Input row of position p, R = max_note - min_note, over the events 0..p:
      [0, R) one-hot of the sounding pitch | R a note sounds | R+1 silence |
      R+2 "attack": the latest event other than NOTE_OFF is a note-on (cleared by NO_EVENT,
      not by NOTE_OFF, as in Magenta) | R+3 +1/-1 the direction of the latest pitch change
      between consecutive note-ons, 0 before any | for each lookback d: event p == event p-d |
      binary counter of p+1 (+1/-1) | 1.0 when p+1 is a multiple of 16 (bar start, hard-coded) |
      12: the major keys that tie for the most note-ons so far |
      12: the same over the last 3 distinct pitches played.
    A sounding pitch 0 counts as silence (Magenta tests the pitch for truth); this only
    matters when min_note is 0.
    Labels put pitches first: pitch - min_note, R NO_EVENT, R+1 NOTE_OFF, R+2+i repeat of
    lookback i (last matching distance wins), and R+1+len for NO_EVENT before step
    lookback_distances[-1]. The default label is R.
    """

    def __init__(
        self,
        min_note: int = 48,
        max_note: int = 84,
        lookback_distances: Sequence[int] | None = None,
        binary_counter_bits: int = 7,
    ):
        self.min_note, self.max_note = check_note_range(min_note, max_note)
        self.lookback_distances, self.binary_counter_bits = check_lookbacks(
            lookback_distances, binary_counter_bits
        )
        self.note_range = self.max_note - self.min_note
        k = len(self.lookback_distances)
        self.input_size = (
            self.note_range + 4 + k + self.binary_counter_bits + 1 + 2 * NOTES_PER_OCTAVE
        )
        self.num_classes = self.note_range + NUM_SPECIAL_MELODY_EVENTS + k
        self.default_event_label = self.note_range

    def _rows(self, histories: np.ndarray, last_only: bool) -> np.ndarray:
        """float32 [B, P, input_size]: every position (P = L) or only the last one (P = 1)."""
        check_melody_events(histories.ravel(), self.min_note, self.max_note)
        num_rows, steps = histories.shape
        t = np.broadcast_to(np.arange(steps), histories.shape)

        def latest(mask: np.ndarray) -> np.ndarray:
            """Index of the latest True at or before each step (-1 if none)."""
            return np.maximum.accumulate(np.where(mask, t, -1), axis=1)

        def pick(values: np.ndarray, index: np.ndarray, fill: int) -> np.ndarray:
            picked = np.take_along_axis(values, np.maximum(index, 0), axis=1)
            return np.where(index >= 0, picked, fill)

        is_on = histories >= 0
        sounding = pick(histories, latest(histories != NO_EVENT), NOTE_OFF)
        attack = pick(histories, latest(histories != NOTE_OFF), NO_EVENT) >= 0
        on_index = latest(is_on)
        previous_on = np.concatenate([np.full((num_rows, 1), -1), on_index[:, :-1]], axis=1)
        step_dir = np.where(
            is_on & (previous_on >= 0), np.sign(histories - pick(histories, previous_on, 0)), 0
        )
        direction = pick(step_dir, latest(step_dir != 0), 0)

        positions = np.arange(steps)
        if last_only:
            positions = positions[-1:]
            sounding, attack, direction = sounding[:, -1:], attack[:, -1:], direction[:, -1:]
        current = histories[:, positions]

        playing = sounding > 0
        pitch_rows = one_hot(np.where(playing, sounding - self.min_note, -1), self.note_range)
        parts = [
            pitch_rows,
            playing[..., None],
            ~playing[..., None],
            attack[..., None],
            direction[..., None],
        ]
        for d in self.lookback_distances:
            back = positions - d
            parts.append(((back >= 0) & (histories[:, np.maximum(back, 0)] == current))[..., None])
        counter = binary_counter(positions + 1, self.binary_counter_bits)
        parts.append(np.broadcast_to(counter, current.shape + counter.shape[-1:]))
        bar_start = np.broadcast_to((positions + 1) % MAGENTA_STEPS_PER_BAR == 0, current.shape)
        parts.append(bar_start[..., None])
        rows, times = np.nonzero(is_on)
        note_ons = (rows, times, histories[rows, times])
        shape = (num_rows, len(positions))
        parts.append(self._key_hot(self._pitch_class_counts(note_ons, shape, last_only)))
        parts.append(self._key_hot(self._last_three_counts(note_ons, shape, last_only)))
        return np.concatenate([p.astype(np.float32) for p in parts], axis=-1)

    @staticmethod
    def _pitch_class_counts(note_ons, shape, last_only) -> np.ndarray:
        """int [B, P, 12]: how many note-ons of each pitch class were played so far.

        ``note_ons`` = (row, step, pitch) of every note-on; P = 1 (last step) or all steps."""
        rows, times, pitches = note_ons
        if last_only:
            flat = rows * NOTES_PER_OCTAVE + pitches % NOTES_PER_OCTAVE
            counts = np.bincount(flat, minlength=shape[0] * NOTES_PER_OCTAVE)
            return counts.reshape(shape[0], 1, NOTES_PER_OCTAVE)
        hits = np.zeros(shape + (NOTES_PER_OCTAVE,), dtype=np.int64)
        hits[rows, times, pitches % NOTES_PER_OCTAVE] = 1
        return np.cumsum(hits, axis=1)

    @staticmethod
    def _last_three_counts(note_ons, shape, last_only) -> np.ndarray:
        """int [B, P, 12]: pitch classes of the (up to) 3 most recently played distinct pitches.

        Those are the 3 pitches whose latest note-on is the most recent."""
        rows, times, pitches = note_ons
        distinct, columns = np.unique(pitches, return_inverse=True)
        last_seen = np.full(shape + (len(distinct),), -1)
        if last_only:
            np.maximum.at(last_seen, (rows, 0, columns), times)
        else:
            last_seen[rows, times, columns] = times
            last_seen = np.maximum.accumulate(last_seen, axis=1)
        if len(distinct) > 3:
            third = np.partition(last_seen, len(distinct) - 3, axis=-1)[..., len(distinct) - 3]
            recent = last_seen >= np.maximum(third, 0)[..., None]
        else:
            recent = last_seen >= 0
        pitch_class_hot = distinct[:, None] % NOTES_PER_OCTAVE == np.arange(NOTES_PER_OCTAVE)
        return recent.astype(np.int64) @ pitch_class_hot.astype(np.int64)

    @staticmethod
    def _key_hot(pitch_class_counts: np.ndarray) -> np.ndarray:
        """Multi-hot [.., 12] of the major keys with the most fitting notes (all tie if none)."""
        key_counts = pitch_class_counts @ KEY_MATRIX
        return key_counts == key_counts.max(axis=-1, keepdims=True)

    def _inputs_all(self, events):
        return self._rows(events[None, :], last_only=False)[0]

    def _inputs_last(self, histories):
        return self._rows(histories, last_only=True)[:, 0]

    def _labels_at(self, events, positions):
        check_melody_events(events, self.min_note, self.max_note)
        r = self.note_range
        current = events[positions]
        labels = np.where(current == NOTE_OFF, r + 1, current - self.min_note)
        labels = np.where(current == NO_EVENT, r, labels)
        for i, d in enumerate(self.lookback_distances):
            back = positions - d
            repeats = (back >= 0) & (events[np.maximum(back, 0)] == current)
            labels = np.where(repeats, r + 2 + i, labels)
        if self.lookback_distances:
            early = (positions < self.lookback_distances[-1]) & (current == NO_EVENT)
            labels = np.where(early, self.num_classes - 1, labels)
        return labels

    def _decode(self, classes, histories):
        r = self.note_range
        events = np.where(classes == r, NO_EVENT, classes + self.min_note)
        events = np.where(classes == r + 1, NOTE_OFF, events)
        steps = histories.shape[1]
        for i, d in enumerate(self.lookback_distances):
            back = histories[:, steps - d] if steps >= d else NO_EVENT
            events = np.where(classes == r + 2 + i, back, events)
        return events

    def spec(self) -> dict:
        return {
            "type": "key_melody",
            "min_note": self.min_note,
            "max_note": self.max_note,
            "lookback_distances": list(self.lookback_distances),
            "binary_counter_bits": self.binary_counter_bits,
        }
