"""CTC decoding over the recogniser's per-timestep probabilities.

:func:`fold` turns the recogniser's full-vocabulary probabilities (18 000+
symbols) into a small plate alphabet: lower case counts toward upper case, and
separators (space, ``·``, ``-``) count as blank, since plates print them but
labels do not.

:func:`constrained_decode` is an exact Viterbi search for the best CTC path
whose collapsed text fits a sequence of slots. Each slot's emission absorbs,
with the confusion weight, the probability of confusable characters the slot
does not allow: in a digits-only slot an ``O`` the recogniser was sure of
becomes a ``0`` at little cost, whereas a ``K`` cannot become a digit cheaply.

:func:`best_path` is the unconstrained greedy read over the same alphabet.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from models.grammar import confusion_weight

FloatArray = npt.NDArray[np.float32]
SEPARATORS = frozenset(" ·-.:•")
_NEG = np.float32(-1e30)
_EPS = np.float32(1e-12)


@dataclass(frozen=True)
class Folded:
    """Probabilities over a plate alphabet: ``probs`` (T, n) and ``blank`` (T,)."""

    alphabet: tuple[str, ...]
    probs: FloatArray
    blank: FloatArray

    @property
    def steps(self) -> int:
        return int(self.probs.shape[0])


@dataclass(frozen=True)
class Decoded:
    """A text with its path log-probability and per-character confidences."""

    text: str
    log_score: float
    char_conf: tuple[float, ...]
    #: First and last timestep of each character.
    spans: tuple[tuple[int, int], ...]


class Vocabulary:
    """Maps the recogniser's symbol list to plate alphabets (cached per alphabet)."""

    def __init__(self, symbols: Sequence[str]) -> None:
        self.symbols = tuple(symbols)
        self._index: dict[str, int] = {}
        for i, sym in enumerate(self.symbols):
            self._index.setdefault(sym, i)
        self._sep = np.array([self._index[s] for s in SEPARATORS if s in self._index], dtype=int)
        self._cache: dict[tuple[str, ...], tuple[npt.NDArray[np.intp], FloatArray]] = {}

    def _projection(self, alphabet: tuple[str, ...]) -> tuple[npt.NDArray[np.intp], FloatArray]:
        """Symbol rows to read and a (rows, n) matrix summing a character and its lower case."""
        if alphabet not in self._cache:
            pairs = [
                (self._index[variant], j)
                for j, ch in enumerate(alphabet)
                for variant in sorted({ch, ch.lower()})
                if variant in self._index
            ]
            rows = np.array([r for r, _ in pairs], dtype=np.intp)
            onehot = np.zeros((len(pairs), len(alphabet)), dtype=np.float32)
            onehot[np.arange(len(pairs)), [j for _, j in pairs]] = 1.0
            self._cache[alphabet] = (rows, onehot)
        return self._cache[alphabet]

    def fold(self, probs: FloatArray, alphabet: tuple[str, ...]) -> Folded:
        """Project (T, V) probabilities onto ``alphabet`` plus blank."""
        rows, onehot = self._projection(alphabet)
        sub = (probs[:, rows] @ onehot).astype(np.float32)
        blank = probs[:, 0] + (probs[:, self._sep].sum(axis=1) if self._sep.size else 0.0)
        return Folded(alphabet, sub, blank.astype(np.float32))


@functools.lru_cache(maxsize=128)
def _absorption(alphabet: tuple[str, ...], slot: frozenset[str], full: bool) -> FloatArray:
    """(n, n) weights: how much of character i's probability counts for allowed j.

    ``full`` counts a confusable partner's whole probability (for confidence:
    the recogniser saw this glyph); otherwise its confusion weight (for the
    search: assuming a confusion has a price, so layouts do not tie).
    """
    absorb = np.zeros((len(alphabet), len(alphabet)), dtype=np.float32)
    for j, ch in enumerate(alphabet):
        if ch not in slot:
            continue
        for i, other in enumerate(alphabet):
            if other == ch:
                absorb[i, j] = 1.0
            elif other not in slot:
                weight = confusion_weight(other, ch)
                absorb[i, j] = 1.0 if full and weight > 0 else weight
    return absorb


@functools.lru_cache(maxsize=128)
def _allowed(alphabet: tuple[str, ...], slot: frozenset[str]) -> npt.NDArray[np.bool_]:
    """Which characters of ``alphabet`` the slot allows (read-only: shared by every line)."""
    mask = np.array([ch in slot for ch in alphabet])
    mask.flags.writeable = False
    return mask


def slot_emissions(
    folded: Folded,
    slot: frozenset[str],
    prior: Mapping[str, float] | None = None,
    *,
    full: bool = False,
) -> FloatArray:
    """Log emission (T, n) of each alphabet character in ``slot``; -inf-like outside.

    A character the slot allows also receives, weighted, the probability of its
    confusable partners that the slot does not allow. ``prior`` reweighs the
    slot's characters (a local province) while keeping the slot's total mass,
    so the prior changes which character wins, not whether a blank does.
    """
    alphabet = folded.alphabet
    mass = folded.probs @ _absorption(alphabet, slot, full)
    allowed = _allowed(alphabet, slot)
    if prior:
        weights = np.array([prior.get(ch, 1.0) for ch in alphabet], dtype=np.float32)
        weighted = mass * weights[None, :]
        scale = mass[:, allowed].sum(axis=1) / np.maximum(weighted[:, allowed].sum(axis=1), _EPS)
        mass = weighted * scale[:, None]
    out = np.where(allowed[None, :], np.log(np.maximum(mass, _EPS)), _NEG)
    return out.astype(np.float32)


def _emissions(
    folded: Folded,
    slot: frozenset[str],
    prior: Mapping[str, float] | None,
    cache: dict[tuple[frozenset[str], int], tuple[FloatArray, FloatArray]],
) -> tuple[FloatArray, FloatArray]:
    """A slot's search and confidence emissions, computed once per slot and prior."""
    key = (slot, id(prior))
    if key not in cache:
        cache[key] = (
            slot_emissions(folded, slot, prior),
            slot_emissions(folded, slot, prior, full=True),
        )
    return cache[key]


@dataclass(frozen=True)
class _Trie:
    """The templates' slots as a prefix tree: templates that start alike share
    those slots (``ABC123`` and ``ABC1234``; ``皖A12345`` and ``皖A1234学``).

    ``parent`` is each slot's previous slot (-1 for a first slot), ``depth``
    its position in its templates, ``last`` each template's last slot."""

    emissions: FloatArray
    seen: FloatArray
    parent: npt.NDArray[np.intp]
    depth: tuple[int, ...]
    last: tuple[int, ...]


def _trie(
    folded: Folded,
    templates: Sequence[Sequence[frozenset[str]]],
    priors: Sequence[Mapping[str, float] | None],
) -> _Trie | None:
    """The templates' prefix tree with its search and confidence emissions (S, T, n)."""
    nodes: dict[tuple[int, tuple[frozenset[str], ...]], int] = {}
    parent: list[int] = []
    depth: list[int] = []
    rows: list[FloatArray] = []
    seen_rows: list[FloatArray] = []
    last: list[int] = []
    roots: list[Mapping[str, float] | None] = []  # distinct priors, each its own tree
    cache: dict[tuple[frozenset[str], int], tuple[FloatArray, FloatArray]] = {}
    for template, prior in zip(templates, priors, strict=True):
        root = next((i for i, other in enumerate(roots) if other == prior), None)
        if root is None:
            root = len(roots)
            roots.append(prior)
        node = -1
        for i in range(len(template)):
            key = (root, tuple(template[: i + 1]))
            if key not in nodes:
                nodes[key] = len(parent)
                parent.append(node)
                depth.append(i)
                emission, seen_emission = _emissions(
                    folded, template[i], roots[root] if i == 0 else None, cache
                )
                rows.append(emission)
                seen_rows.append(seen_emission)
            node = nodes[key]
        last.append(node)
    if not parent:
        return None
    return _Trie(
        np.stack(rows),
        np.stack(seen_rows),
        np.array(parent, dtype=np.intp),
        tuple(depth),
        tuple(last),
    )


def constrained_decode(
    folded: Folded,
    templates: Sequence[Sequence[frozenset[str]]],
    first_priors: Sequence[Mapping[str, float] | None] | None = None,
) -> list[Decoded | None]:
    """For each template (a sequence of slots), the best CTC path whose text fills it.

    All templates run in one Viterbi pass over their slots, templates that
    start alike sharing those slots (see :class:`_Trie`): the best path into
    a shared slot is the same whichever template it goes on to. A template
    gets None when the line has fewer timesteps than slots.
    """
    priors = list(first_priors) if first_priors is not None else [None] * len(templates)
    trie = _trie(folded, templates, priors)
    if trie is None:
        return [None] * len(templates)
    emissions = trie.emissions
    is_first = trie.parent < 0
    n_slots = len(is_first)
    prev = np.maximum(trie.parent, 0)
    steps, n = folded.steps, len(folded.alphabet)
    log_blank = np.log(np.maximum(folded.blank, _EPS))
    s_idx = np.arange(n_slots)
    cols = np.arange(n)

    # emit[s, c]: on character c of slot s. after[s]: on a blank after slot s.
    # start: on a blank before any slot (shared by all templates).
    emit = np.where(is_first[:, None], emissions[:, 0], _NEG).astype(np.float32)
    after = np.full(n_slots, _NEG, dtype=np.float32)
    start = float(log_blank[0])
    emit_from = np.zeros((steps, n_slots, n), dtype=np.int16)  # -1 stay, -2 blank, c prev
    after_from = np.full((steps, n_slots), -1, dtype=np.int16)  # -1 stay, c prev emit
    for t in range(1, steps):
        top1 = emit.argmax(axis=1)
        best1 = emit[s_idx, top1]
        masked = emit.copy()
        masked[s_idx, top1] = _NEG
        top2 = masked.argmax(axis=1)
        best2 = masked[s_idx, top2]
        # Previous slot's best character other than c (a repeat needs a blank
        # between): its best, or its second best where that is c.
        p1, p2 = top1[prev], top2[prev]
        repeat = cols[None, :] == p1[:, None]
        prev_char = np.where(repeat, p2[:, None], p1[:, None])
        prev_score = np.where(
            repeat,
            np.where(is_first, _NEG, best2[prev])[:, None],
            np.where(is_first, _NEG, best1[prev])[:, None],
        )
        before = np.where(is_first, start, after[prev])[:, None]
        # The first of stay, blank, previous slot that scores best (as argmax picks).
        stay = (emit >= before) & (emit >= prev_score)
        from_blank = before >= prev_score
        emit_from[t] = np.where(stay, -1, np.where(from_blank, -2, prev_char))
        best = np.maximum(np.maximum(emit, before), prev_score)
        after_from[t] = np.where(best1 > after, top1, -1)
        after = np.maximum(after, best1) + log_blank[t]
        emit = (best + emissions[:, t]).astype(np.float32)
        start += float(log_blank[t])
    return [
        _backtrack(
            folded,
            trie,
            emit=emit,
            after=after,
            emit_from=emit_from,
            after_from=after_from,
            end_slot=trie.last[i],
            length=len(tpl),
        )
        for i, tpl in enumerate(templates)
    ]


def _backtrack(
    folded: Folded,
    trie: _Trie,
    *,
    emit: FloatArray,
    after: FloatArray,
    emit_from: npt.NDArray[np.int16],
    after_from: npt.NDArray[np.int16],
    end_slot: int,
    length: int,
) -> Decoded | None:
    steps = folded.steps
    if length == 0 or steps < length:
        return None
    end_char = int(emit[end_slot].argmax())
    in_emit = emit[end_slot, end_char] > after[end_slot]
    final = float(emit[end_slot, end_char] if in_emit else after[end_slot])
    if final <= _NEG / 2:
        return None
    chars = [0] * length
    conf = [0.0] * length
    spans = [(0, 0)] * length
    slot, char = end_slot, end_char
    for t in range(steps - 1, -1, -1):
        if slot < 0:
            break
        k = trie.depth[slot]
        if in_emit:
            if conf[k] == 0.0:
                spans[k] = (t, t)
            chars[k] = char
            conf[k] = max(conf[k], float(np.exp(trie.seen[slot, t, char])))
            spans[k] = (t, spans[k][1])
            src = int(emit_from[t, slot, char])
            if src == -2:
                in_emit = False
                slot = int(trie.parent[slot])
            elif src >= 0:
                slot, char = int(trie.parent[slot]), src
        elif after_from[t, slot] >= 0:
            in_emit = True
            char = int(after_from[t, slot])
    text = "".join(folded.alphabet[c] for c in chars)
    return Decoded(text, final, tuple(conf), tuple(spans))


def best_path(folded: Folded) -> Decoded:
    """Greedy CTC read over the folded alphabet (no grammar)."""
    table = np.concatenate([folded.blank[:, None], folded.probs], axis=1)
    idx = table.argmax(axis=1)
    top = table[np.arange(table.shape[0]), idx]
    score = float(np.log(np.maximum(top, _EPS)).sum())
    text: list[str] = []
    conf: list[float] = []
    spans: list[tuple[int, int]] = []
    prev = -1
    for t, (i, p) in enumerate(zip(idx.tolist(), top.tolist(), strict=True)):
        if i not in (0, prev):
            text.append(folded.alphabet[i - 1])
            conf.append(p)
            spans.append((t, t))
        elif i != 0 and i == prev:
            conf[-1] = max(conf[-1], p)
            spans[-1] = (spans[-1][0], t)
        prev = i
    return Decoded("".join(text), score, tuple(conf), tuple(spans))
