#!/usr/bin/python3
"""Reference cases for ClassSkip's class selection (include/skiptune/policy/class_selection.hpp).

Run with Debian's Python (numpy + torch 1.13):

    /usr/bin/python3 scripts/make_class_selection_cases.py [--out-dir DIR]

Writes, by default into <repo>/tests/fixtures/:
    class_selection_cases.json   the cases, for people and other tools
    class_selection_cases.txt    the same cases in a line format that the C++ test parses:
                                 "case NAME", then one "key value value ..." line per field,
                                 then "end"; numbers are shortest round-trip reprs.

This is an independent re-implementation of the reference `select_classes` of Skip Tuning, written
from shared/docs/SKIP_TUNING.md ("CSkip exactly") with the torch operations the reference uses:
    K = ceil(rho*C) if rho <= 1 else ceil(min(rho, C)); K = min(K, MAX_TOP)     (Python doubles)
    S[i, y_i] = 1e4; score = S.max(dim=0); ranks = sort(score, descending)      (float32 tensors)
    tail: x = linspace(0, 5, C-K); p = exp(-x/lam)/lam; (p - p.min()) / (p.max() - p.min())
    kept = ranks[mask] sorted ascending; labels -> positions in kept
The randomness is taken out: every case carries a fixed rank mask (ranks < K set, the tail drawn
here with numpy from the keep probabilities), and the expected results follow from that mask.

The library's documented decisions are mirrored here (see docs/class_skip.md):
  * ties in score: lower class index first (a stable descending sort; torch's default sort is
    not stable, so the reference leaves the order unspecified);
  * C - K == 1: the single tail rank gets keep probability 1 (the reference computes 0/0);
  * every ground-truth class of the batch is kept even if the mask drops its rank (the reference
    would silently map that label to position 0). `reference_kept_classes` and
    `reference_drops_ground_truth` record what the reference itself would have done.
The script is deterministic: two runs write byte-identical files.
"""

import argparse
import json
import math
from pathlib import Path

import numpy as np
import torch

FORCED_GROUND_TRUTH_SCORE = 1e4
TAIL_END = 5.0


# --------------------------------------------------------------------------- the reference steps

def top_count(classes, top_ratio, max_top):
    """Step 1, in Python double arithmetic like the reference (quirks included)."""
    if top_ratio <= 1:
        k = math.ceil(top_ratio * classes)
    else:
        k = math.ceil(min(top_ratio, classes))
    return min(k, max_top)


def keeps_all(classes, top_ratio, max_top):
    return top_ratio == 1 or top_count(classes, top_ratio, max_top) == classes


def keep_probabilities(classes, k, reserve_scale):
    """Step 5 with torch float64: 1 for ranks < K, min-max normalised exp(-x/lam)/lam after."""
    head = torch.ones(k, dtype=torch.float64)
    tail = classes - k
    if tail == 0:
        return head
    if tail == 1:
        # The reference: linspace gives [0], p = [1/lam], and (p - min)/(max - min) = 0/0 = NaN.
        # Library decision: the single tail rank is the "first tail rank" and gets 1.
        return torch.cat([head, torch.ones(1, dtype=torch.float64)])
    x = torch.linspace(0, TAIL_END, tail, dtype=torch.float64)
    p = torch.exp(-x / reserve_scale) / reserve_scale
    p = (p - p.min()) / (p.max() - p.min())
    return torch.cat([head, p])


def scores_and_ranks(similarity, labels):
    """Steps 3-4 on float32 tensors. Ties: stable descending sort = lower class index first."""
    s = torch.tensor(similarity, dtype=torch.float32).clone()
    y = torch.tensor(labels, dtype=torch.long)
    s[torch.arange(s.shape[0]), y] = FORCED_GROUND_TRUTH_SCORE
    scores = s.max(dim=0).values
    ranks = torch.sort(scores, descending=True, stable=True).indices
    return scores, ranks


def select(similarity, labels, rank_mask):
    """Steps 3-7. Returns scores, ranks, the reference's kept list, ours, and remapped labels."""
    scores, ranks = scores_and_ranks(similarity, labels)
    mask = torch.tensor(rank_mask, dtype=torch.bool)
    reference_kept = torch.sort(ranks[mask]).values.tolist()
    # Library decision: ground-truth classes are always kept.
    kept = sorted(set(reference_kept) | set(int(v) for v in labels))
    reference_drops = any(int(v) not in set(reference_kept) for v in labels)
    position = {c: i for i, c in enumerate(kept)}
    remapped = [position[int(v)] for v in labels]
    return scores, ranks, reference_kept, kept, remapped, reference_drops


# --------------------------------------------------------------------------- case construction

def cosine_similarity(rng, batch, classes, dim=16, quantum=2.0 ** -12):
    """normalize(f) . normalize(P)^T in float32, rounded to multiples of `quantum`: short exact
    decimal forms, and ties (the reference runs in fp16, whose grid near 1 is 2^-11 anyway)."""
    f = rng.standard_normal((batch, dim))
    p = rng.standard_normal((classes, dim))
    f /= np.linalg.norm(f, axis=1, keepdims=True)
    p /= np.linalg.norm(p, axis=1, keepdims=True)
    s = (f @ p.T).astype(np.float32)
    s = (np.round(s / quantum) * quantum).astype(np.float32)
    return s


def draw_mask(rng, probabilities):
    """A fixed mask for the fixture: ranks with p == 1 set, the rest Bernoulli(p) from numpy."""
    p = probabilities.numpy()
    return [1 if q >= 1.0 else int(rng.random() < q) for q in p]


def make_case(name, similarity, labels, top_ratio, max_top, reserve_scale, rank_mask=None, rng=None):
    similarity = np.asarray(similarity, dtype=np.float32)
    batch, classes = similarity.shape
    labels = [int(v) for v in labels]
    k = top_count(classes, top_ratio, max_top)
    all_kept = keeps_all(classes, top_ratio, max_top)
    probabilities = keep_probabilities(classes, k, reserve_scale)
    if all_kept:
        rank_mask = [1] * classes  # the caller skips selection; selecting with all ranks is the same
    elif rank_mask is None:
        rank_mask = draw_mask(rng, probabilities)
    assert len(rank_mask) == classes and all(rank_mask[:k]), name
    scores, ranks, reference_kept, kept, remapped, reference_drops = select(similarity, labels, rank_mask)
    if all_kept:
        assert kept == list(range(classes)) and remapped == labels, name
    return {
        "name": name,
        "classes": classes,
        "batch": batch,
        "top_ratio": float(top_ratio),
        "max_top": int(max_top),
        "reserve_scale": float(reserve_scale),
        "similarity": [float(v) for v in similarity.reshape(-1)],
        "labels": labels,
        "rank_mask": [int(v) for v in rank_mask],
        "top_count": int(k),
        "keeps_all": int(all_kept),
        "keep_probabilities": [float(v) for v in probabilities.tolist()],
        "scores": [float(v) for v in scores.tolist()],
        "ranks": [int(v) for v in ranks.tolist()],
        "reference_kept_classes": [int(v) for v in reference_kept],
        "reference_drops_ground_truth": int(reference_drops),
        "kept_classes": [int(v) for v in kept],
        "remapped_labels": [int(v) for v in remapped],
    }


def hand_made_cases(rng):
    cases = []
    # The worked example of docs/class_skip.md: C = 6, B = 2, rho = 0.5 -> K = 3, lambda = 1.
    worked = [[0.30, 0.10, 0.25, -0.20, 0.05, 0.40],
              [0.20, 0.15, 0.35, 0.00, -0.10, 0.45]]
    cases.append(make_case("worked_example", worked, [4, 1], 0.5, 50, 1.0, rank_mask=[1, 1, 1, 1, 0, 0]))

    s10 = cosine_similarity(rng, 4, 10)
    cases.append(make_case("rho_one_keeps_all", s10, [3, 3, 3, 3], 1.0, 50, 0.3))
    cases.append(make_case("rho_one_with_max_top_below_classes", cosine_similarity(rng, 2, 8), [5, 0], 1.0, 3, 0.3))
    cases.append(make_case("k_equals_classes", s10, [1, 2, 3, 4], 0.95, 50, 0.3))
    cases.append(make_case("tail_of_one", s10, [7, 7, 2, 2], 0.9, 50, 0.3, rank_mask=[1] * 10))
    cases.append(make_case("rho_count_3", s10, [6, 6, 6, 6], 3.0, 50, 0.3, rng=rng))
    cases.append(make_case("rho_count_20_capped_at_classes", s10, [0, 9, 0, 9], 20.0, 50, 0.3))
    cases.append(make_case("rho_count_fractional_2_5", s10, [8, 8, 8, 8], 2.5, 50, 0.3, rng=rng))
    s40 = cosine_similarity(rng, 4, 40)
    cases.append(make_case("max_top_below_ceil_rho_c", s40, [11, 11, 11, 11], 0.5, 5, 0.3, rng=rng))
    cases.append(make_case("max_top_one", s40, [30, 30, 30, 30], 0.5, 1, 0.3, rng=rng))
    # 0.14 * 50 = 7.000000000000001 in doubles, so the reference's K is 8, not 7.
    cases.append(make_case("ceil_rounding_quirk", cosine_similarity(rng, 4, 50), [3, 3, 3, 3], 0.14, 50, 0.3,
                           rng=rng))
    cases.append(make_case("batch_of_one", cosine_similarity(rng, 1, 12), [9], 0.25, 50, 0.3, rng=rng))
    cases.append(make_case("several_labels", cosine_similarity(rng, 4, 20), [17, 2, 9, 4], 0.3, 50, 0.3, rng=rng))
    cases.append(make_case("repeated_labels", cosine_similarity(rng, 6, 20), [5, 12, 5, 12, 5, 0], 0.3, 50, 0.3,
                           rng=rng))
    # Exact ties: between plain scores, and between forced ground-truth classes (all 1e4).
    ties = [[0.50, 0.25, 0.50, 0.25, 0.00, 0.50, -0.25, 0.25],
            [0.25, 0.50, 0.50, 0.25, 0.25, 0.00, 0.50, -0.50],
            [0.00, 0.50, 0.25, 0.50, 0.00, 0.25, 0.00, 0.25]]
    cases.append(make_case("ties_lower_index_first", ties, [7, 4, 7], 0.25, 50, 0.3,
                           rank_mask=[1, 1, 1, 0, 1, 0, 1, 0]))
    cases.append(make_case("ties_between_forced_labels", ties, [6, 2, 0], 0.25, 50, 0.3,
                           rank_mask=[1, 1, 1, 1, 0, 1, 0, 0]))
    # The ground truth's own similarity is the lowest in its row: forcing decides its rank.
    low = [[0.9, 0.8, -0.9, 0.7, 0.6, 0.5], [0.1, 0.2, 0.3, 0.4, 0.5, -0.6]]
    cases.append(make_case("ground_truth_forced_above_higher_similarity", low, [2, 5], 0.34, 50, 0.3,
                           rank_mask=[1, 1, 1, 0, 1, 0]))
    neg = -np.abs(cosine_similarity(rng, 3, 9)) - np.float32(2.0 ** -7)
    cases.append(make_case("all_similarities_negative", neg, [4, 1, 4], 0.3, 50, 0.3, rng=rng))
    # More distinct ground-truth classes than K: the reference may drop one; we keep them all.
    s_many = cosine_similarity(rng, 4, 10)
    cases.append(make_case("more_labels_than_k_mask_drops_ground_truth", s_many, [7, 3, 5, 1], 0.2, 50, 0.3,
                           rank_mask=[1, 1, 0, 1, 1, 0, 0, 0, 0, 0]))
    cases.append(make_case("more_labels_than_k_mask_keeps_ground_truth", s_many, [7, 3, 5, 1], 0.2, 50, 0.3,
                           rank_mask=[1, 1, 1, 1, 0, 0, 1, 0, 0, 0]))
    cases.append(make_case("more_labels_than_k_with_max_top", cosine_similarity(rng, 4, 30), [0, 29, 14, 15], 0.5, 2,
                           0.3, rank_mask=[1, 1, 0, 0, 1] + [0] * 25))
    cases.append(make_case("one_class", [[0.3], [0.7]], [0, 0], 0.5, 50, 0.3))
    cases.append(make_case("two_classes_tail_of_one", [[0.3, 0.6], [0.1, -0.2]], [0, 0], 0.5, 50, 0.3,
                           rank_mask=[1, 1]))
    cases.append(make_case("two_classes_tail_dropped_by_hand", [[0.3, 0.6], [0.1, -0.2]], [1, 1], 0.5, 50, 0.3,
                           rank_mask=[1, 0]))
    cases.append(make_case("tail_of_two", cosine_similarity(rng, 2, 6), [1, 1], 0.6, 50, 0.3, rng=rng))
    cases.append(make_case("lambda_small", cosine_similarity(rng, 4, 30), [4, 4, 4, 4], 0.2, 50, 0.05, rng=rng))
    cases.append(make_case("lambda_large", cosine_similarity(rng, 4, 30), [4, 4, 4, 4], 0.2, 50, 10.0, rng=rng))
    # Cross-dataset size: 1000 classes, K capped at 50; similarities on a 2^-8 grid (many ties).
    cases.append(make_case("cross_dataset_1000_classes", cosine_similarity(rng, 4, 1000, quantum=2.0 ** -8),
                           [321, 321, 321, 321], 0.5, 50, 0.3, rng=rng))
    return cases


def random_cases(rng, count):
    cases = []
    ratios = [0.1, 0.25, 0.5, 0.75, 0.9, 1.0, 2.0, 5.0, 7.5]
    max_tops = [1, 3, 5, 50]
    scales = [0.3, 0.1, 1.0, 2.5]
    for index in range(count):
        classes = int(rng.integers(2, 61))
        batch = int(rng.integers(1, 7))
        quantum = 2.0 ** -4 if index % 3 == 0 else 2.0 ** -12
        similarity = cosine_similarity(rng, batch, classes, quantum=quantum)
        if index % 2 == 0:
            labels = [int(rng.integers(0, classes))] * batch  # the reference's one-class batches
        else:
            labels = [int(v) for v in rng.integers(0, classes, size=batch)]
        cases.append(make_case(f"random_{index:02d}", similarity, labels, float(rng.choice(ratios)),
                               int(rng.choice(max_tops)), float(rng.choice(scales)), rng=rng))
    return cases


# --------------------------------------------------------------------------- output

def write_text(cases, path):
    order = ["classes", "batch", "top_ratio", "max_top", "reserve_scale", "similarity", "labels", "rank_mask",
             "top_count", "keeps_all", "keep_probabilities", "scores", "ranks", "reference_kept_classes",
             "reference_drops_ground_truth", "kept_classes", "remapped_labels"]
    lines = ["# ClassSkip selection cases; written by scripts/make_class_selection_cases.py, do not edit.",
             "# case NAME / one 'key values...' line per field / end. Empty lists are a bare key."]
    for case in cases:
        lines.append(f"case {case['name']}")
        for key in order:
            value = case[key]
            values = value if isinstance(value, list) else [value]
            lines.append(" ".join([key] + [repr(v) for v in values]))
        lines.append("end")
    path.write_text("\n".join(lines) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=Path(__file__).resolve().parent.parent / "tests" / "fixtures")
    args = parser.parse_args()
    rng = np.random.default_rng(20250611)
    cases = hand_made_cases(rng) + random_cases(rng, 24)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    json_path = args.out_dir / "class_selection_cases.json"
    json_path.write_text(json.dumps({"generator": "scripts/make_class_selection_cases.py", "cases": cases}) + "\n")
    write_text(cases, args.out_dir / "class_selection_cases.txt")
    drops = sum(case["reference_drops_ground_truth"] for case in cases)
    print(f"{len(cases)} cases ({drops} where the reference would drop a ground-truth class) -> {args.out_dir}")


if __name__ == "__main__":
    main()
