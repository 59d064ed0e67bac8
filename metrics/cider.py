"""CIDEr-D exactly as Tarsier's caption pipeline computes it, vectorised with numpy (PROTOCOLS.md).

Every caption, references and predictions alike, is first lower-cased with Python's `str.lower()`
(Tarsier's evaluation does this before anything else; the tokenizer's own lower-casing is not the
same, because it treats "Dr.", "U.S." or a capitalised sentence start differently from their
lower-case forms). Captions are then tokenized with the pure-Python PTB tokenizer
(`ptb_tokenizer`, pycocoevalcap's Java tokenizer token for token), then for n = 1..4:
tf-idf vectors with document frequency from the references only, idf = log(N) - log(max(1, df))
over the N videos; per reference, the clipped dot product sum(min(h, r) * r) over the
hypothesis' n-grams, divided by both norms (when neither is zero), times
exp(-(len_h - len_r)^2 / (2 sigma^2)) with lengths counted in bigrams; a video's score is the
mean over n of the sum over its references, / n_refs * 10; the corpus score is the numpy mean
of the video scores. The metric reports the corpus score x100.

Every n-gram of every caption becomes one row of flat arrays, so a whole corpus is scored with a
few numpy passes; a bootstrap resample only changes the document frequencies (videos drawn
twice count twice) and reuses the arrays.
"""

from __future__ import annotations

from itertools import chain
from typing import Callable, Hashable, Sequence

import numpy as np

from harness.metric import Aggregate, Metric, Row, ScoreContext, ok_rows
from harness.metrics.ptb_tokenizer import tokenize_corpus, tokenize_lines
from harness.types import Prediction, Sample, SampleScore

N_GRAMS = 4
SIGMA = 6.0

__all__ = ["Cider", "cider_d", "CorpusNgrams", "tokenize_captions"]


def tokenize_captions(captions: list[str]) -> list[str]:
    """Tarsier's caption preparation: str.lower() on each caption, then the PTB tokenizer over
    them as one file (one pycocoevalcap tokenizer call)."""
    return tokenize_lines([c.lower() for c in captions])


class CorpusNgrams:
    """n-gram counts of tokenized items (a hypothesis and its references each), as flat arrays.

    One sort of every n-gram occurrence by (item, n-gram, sentence) gives the counts, the
    document frequencies and the hypothesis-reference overlaps. A (reference, n) pair with no
    n-gram in common with the hypothesis scores 0 whatever the weights, so only pairs with an
    overlap keep their n-gram rows (about half of them).
    """

    def __init__(self, hyps: Sequence[str], refs: Sequence[Sequence[str]], n: int = N_GRAMS):
        self.n, self.n_items = n, len(hyps)
        self.n_refs = np.array([len(rs) for rs in refs], dtype=np.int64)
        ref_start = np.cumsum(self.n_refs) - self.n_refs  # first reference of each item
        n_total = int(self.n_refs.sum())
        # sentence s -> (item, place): the hypothesis is place 0, its references 1, 2, ...
        s_item = np.concatenate([np.arange(self.n_items), np.repeat(np.arange(self.n_items), self.n_refs)])
        s_place = np.concatenate([np.zeros(self.n_items, dtype=np.int64),
                                  np.arange(n_total) - np.repeat(ref_start, self.n_refs) + 1])
        sent, gram, order_of, lengths, self.n_grams = _ngrams(list(hyps) + [r for rs in refs for r in rs], n)
        g, places = np.int64(self.n_grams), np.int64(int(self.n_refs.max(initial=0)) + 1)
        keys, _, tf = _unique((s_item[sent] * g + gram) * places + s_place[sent], counts=True)
        item_gram, place = np.divmod(keys, places)
        item, gram = np.divmod(item_gram, g)
        order, tf = order_of[gram], tf.astype(np.float64)
        first = np.empty(len(keys), dtype=bool)  # first row of each (item, n-gram) group
        first[:1] = True
        np.not_equal(item_gram[1:], item_gram[:-1], out=first[1:])
        group = np.cumsum(first) - 1
        starts = np.flatnonzero(first)
        hyp = place == 0  # sorts first in its group
        has_hyp = hyp[starts]
        # document frequency: an item counts once per n-gram of any of its references
        df_rows = starts[np.bincount(group[~hyp], minlength=len(starts)) > 0]
        self.df_item, self.df_gram = item[df_rows], gram[df_rows]
        self.h_gram, self.h_tf, self.h_slot = gram[hyp], tf[hyp], item[hyp] * n + order[hyp]
        r = np.flatnonzero(~hyp)
        r_slot = (ref_start[item[r]] + place[r] - 1) * n + order[r]  # (reference, n)
        hit = has_hyp[group[r]]  # this reference n-gram is also in the hypothesis
        overlaps = np.zeros(n_total * n, dtype=bool)
        overlaps[r_slot[hit]] = True
        pair_of = np.cumsum(overlaps) - 1  # (reference, n) pairs with an overlap: 0..P-1
        keep = overlaps[r_slot]
        self.k_pair, self.k_gram, self.k_tf = pair_of[r_slot[keep]], gram[r[keep]], tf[r[keep]]
        self.m_pair, self.m_gram, self.m_tf = pair_of[r_slot[hit]], gram[r[hit]], tf[r[hit]]
        self.m_hyp = (np.cumsum(hyp) - 1)[starts[group[r[hit]]]]  # row of the hypothesis n-gram
        p_ref, self.p_order = np.divmod(np.flatnonzero(overlaps), n)
        p_item = np.repeat(np.arange(self.n_items), self.n_refs)[p_ref]
        self.p_slot = p_item * n + self.p_order
        # length in bigrams, as pycocoevalcap counts it
        bigrams = np.maximum(lengths - 1, 0).astype(np.float64)
        self.p_delta = bigrams[p_item] - bigrams[self.n_items + p_ref]

    def scores(self, weight: np.ndarray | None = None, sigma: float = SIGMA) -> np.ndarray:
        """CIDEr-D of every item. weight[i] = how many documents item i stands for (default 1
        each); items of weight 0 are left out of the document frequencies and score nan."""
        w = np.ones(self.n_items) if weight is None else np.asarray(weight, dtype=np.float64)
        n, n_pairs = self.n, len(self.p_slot)
        df = np.bincount(self.df_gram, weights=w[self.df_item], minlength=self.n_grams)
        idf = np.log(float(w.sum())) - np.log(np.maximum(1.0, df))
        hv = self.h_tf * idf[self.h_gram]
        h_norm = np.sqrt(np.bincount(self.h_slot, hv * hv, self.n_items * n))
        kv = self.k_tf * idf[self.k_gram]
        r_norm = np.sqrt(np.bincount(self.k_pair, kv * kv, n_pairs))
        rv = self.m_tf * idf[self.m_gram]
        val = np.bincount(self.m_pair, np.minimum(hv[self.m_hyp], rv) * rv, n_pairs)
        hn = h_norm[self.p_slot]
        both = (hn != 0) & (r_norm != 0)
        val = np.where(both, val / np.where(both, hn * r_norm, 1.0), val)
        val = val * np.power(np.e, -(self.p_delta**2) / (2 * sigma**2))
        total = np.bincount(self.p_slot, val, self.n_items * n).reshape(self.n_items, n)
        out = np.mean(total, axis=1) / self.n_refs * 10.0
        out[w == 0] = np.nan
        return out


def _unique(x: np.ndarray, inverse: bool = False, counts: bool = False):
    """Sorted distinct values (sort-based: numpy's default hash path is slower on int64 keys),
    with the index of each input's value and how often each value occurs."""
    order = np.argsort(x) if inverse else None
    xs = x[order] if inverse else np.sort(x)
    new = np.empty(len(xs), dtype=bool)
    new[:1] = True
    np.not_equal(xs[1:], xs[:-1], out=new[1:])
    inv = None
    if inverse:
        inv = np.empty(len(x), dtype=np.int64)
        inv[order] = np.cumsum(new) - 1
    cnt = np.diff(np.append(np.flatnonzero(new), len(xs))) if counts else None
    return xs[new], inv, cnt


def _ngrams(sents: Sequence[str], n: int):
    """Every n-gram occurrence: (sentence, n-gram id) arrays, the order (0 = unigram) of each
    id, sentence lengths in words, and the number of distinct n-grams (ids are dense)."""
    words = [s.split() for s in sents]
    lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
    flat = list(chain.from_iterable(words))
    vocab = {w: i for i, w in enumerate(dict.fromkeys(flat))}
    ids = np.fromiter(map(vocab.__getitem__, flat), dtype=np.int64, count=len(flat))
    sent_of = np.repeat(np.arange(len(sents)), lengths)
    left = np.repeat(np.cumsum(lengths), lengths) - np.arange(len(ids))  # words from here to the end
    v = np.int64(max(len(vocab), 1))
    sent_parts, gram_parts, sizes = [], [], []
    gram, offset, size = ids, 0, len(vocab)
    for k in range(1, n + 1):
        at = np.nonzero(left >= k)[0]
        if k > 1:  # the k-gram at i is the (k-1)-gram at i followed by word i+k-1
            uniq, dense, _ = _unique(gram[at] * v + ids[at + k - 1], inverse=True)
            gram = np.zeros(len(ids), dtype=np.int64)
            gram[at] = dense
            size = len(uniq)
        sent_parts.append(sent_of[at])
        gram_parts.append(gram[at] + offset)
        sizes.append(size)
        offset += size
    order_of = np.repeat(np.arange(n), sizes)
    return np.concatenate(sent_parts), np.concatenate(gram_parts), order_of, lengths, max(offset, 1)


def _tokenize_refs(refs: dict[Hashable, list[str]]) -> dict[Hashable, list[str]]:
    """{id: [reference, ...]} lower-cased and tokenized as one file, in order."""
    return tokenize_corpus({k: [r.lower() for r in v] for k, v in refs.items()})


def cider_d(
    refs: dict[Hashable, list[str]],
    preds: dict[Hashable, str],
    *,
    tokenized: bool = False,
    n: int = N_GRAMS,
    sigma: float = SIGMA,
) -> tuple[float, dict[Hashable, float]]:
    """Tarsier's CIDEr-D: (corpus, per video), as pycocoevalcap's Cider().compute_score on the
    lower-cased, PTB-tokenized captions.

    refs: {id: [reference, ...]}; preds: {id: prediction}, same ids. Untokenized text is
    lower-cased (str.lower()) and goes through the PTB tokenizer as pycocoevalcap's PTBTokenizer
    would (references and predictions each as one file, in their dict's order); with
    tokenized=True the strings are taken as space-separated tokens as they are. The corpus score
    is not x100.
    """
    if set(refs) != set(preds):
        raise ValueError("refs and preds must have the same ids")
    if any(len(r) == 0 for r in refs.values()):
        raise ValueError("every id needs at least one reference")
    if not tokenized:
        refs = _tokenize_refs(refs)
        preds = dict(zip(preds, tokenize_captions(list(preds.values()))))
    ids = list(refs)
    per = CorpusNgrams([preds[k] for k in ids], [refs[k] for k in ids], n).scores(sigma=sigma)
    return float(np.mean(per)), {k: float(s) for k, s in zip(ids, per)}


class Cider(Metric):
    """CIDEr-D (Tarsier's pipeline: lower-cased, then pycocoevalcap) for captioning benchmarks;
    a corpus-level metric.

    Per sample it stores the video's raw CIDEr-D (pycocoevalcap's scale, not x100; it depends
    on the whole set through the idf) and the tokenized prediction. Aggregates recompute the
    corpus score from the rows, so a bootstrap resample gets its own document frequencies.
    """

    name = "cider"
    headline = "cider"
    corpus_level = True
    gold = "references"

    def __init__(self) -> None:
        # sample id -> (its references, their tokenization): resamples never re-tokenize
        self._refs: dict[str, tuple[list[str], list[str]]] = {}
        # (sample id, tokenized prediction) -> row of the n-gram arrays, which grow as needed
        self._index: dict[tuple[str, str], int] = {}
        self._corpus: CorpusNgrams | None = None

    async def score_all(
        self,
        items: list[tuple[Sample, Prediction]],
        ctx: ScoreContext,
        emit: Callable[[SampleScore], None],
    ) -> None:
        for s, _ in items:
            if not s.references:
                emit(SampleScore(sample_id=s.id, status="failed", reason="no references"))
        items = [(s, p) for s, p in items if s.references]
        if not items:
            return
        # like Tarsier: lower-cased, references in one tokenizer file, predictions in another
        hyps = tokenize_captions([p.text or "" for _, p in items])
        rows = [(s, h) for (s, _), h in zip(items, hyps)]
        for (s, h), v in zip(rows, self._score(rows)):
            emit(SampleScore(sample_id=s.id, fields={"cider": float(v), "tokens": h}))

    def aggregate(self, rows: list[Row], protocol: str) -> Aggregate:
        rows = ok_rows(rows)
        if not rows:
            return Aggregate(metrics={"cider": None}, n_scored=0)
        per = self._score([(s, sc.fields["tokens"]) for s, sc in rows])
        return Aggregate(metrics={"cider": 100.0 * float(np.mean(per))}, n_scored=len(rows))

    def _score(self, rows: list[tuple[Sample, str]]) -> np.ndarray:
        """Per-row CIDEr-D with these rows as the corpus (a repeated sample is two documents)."""
        stale = [s for s, _ in rows if (hit := self._refs.get(s.id)) is None
                 or (hit[0] is not s.references and hit[0] != s.references)]
        if stale:  # tokenized as one file, in row order, as pycocoevalcap would
            unique = {s.id: s for s in stale}
            tokens = _tokenize_refs({i: list(s.references) for i, s in unique.items()})
            self._refs.update({i: (unique[i].references, tokens[i]) for i in unique})
            kept = [k for k in self._index if k[0] not in unique]
            self._index = {k: i for i, k in enumerate(kept)}
            self._corpus = None
        keys = [(s.id, h) for s, h in rows]
        if self._corpus is None or any(k not in self._index for k in keys):
            for k in keys:
                self._index.setdefault(k, len(self._index))
            items = list(self._index)
            self._corpus = CorpusNgrams([h for _, h in items], [self._refs[i][1] for i, _ in items])
        at = np.fromiter(map(self._index.__getitem__, keys), dtype=np.int64, count=len(keys))
        weight = np.bincount(at, minlength=self._corpus.n_items).astype(np.float64)
        return self._corpus.scores(weight)[at]
