#!/usr/bin/env python3
"""Do the fixtures catch plausible implementation mistakes? Mutate ds4_ref one rule at a time.

For every ablation (a plausible bug in an engine or converter) this reruns ds4_ref.py on each fixture
with that one rule changed and reports max |Δlogit| against the transformers full-forward logits and
the first position where it exceeds the suggested test tolerance (1e-3). An ablation that stays
under the tolerance would be a rule the fixtures cannot check.

    python3 tests/reference/sensitivity.py [tests/reference/fixtures]
"""
import contextlib
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ds4_ref as R  # noqa: E402

TOL = 1e-3


@contextlib.contextmanager
def patched(*changes):
    """Temporarily set (object, attribute, value) triples."""
    saved = [(obj, name, getattr(obj, name)) for obj, name, _ in changes]
    try:
        for obj, name, value in changes:
            setattr(obj, name, value)
        yield
    finally:
        for obj, name, value in reversed(saved):
            setattr(obj, name, value)


def rope_neox(x, pos, freqs, inverse=False):
    """Half-split ("rotate half") pairing instead of interleaved pairs."""
    n, h = 2 * len(freqs), len(freqs)
    c, s = np.cos(pos * freqs), np.sin(pos * freqs) * (-1 if inverse else 1)
    out = x.copy()
    a, b = x[..., -n:-h], x[..., -h:]
    out[..., -n:-h], out[..., -h:] = a * c - b * s, a * s + b * c
    return out


def rope_on_head(x, pos, freqs, inverse=False):
    """Rotate the FIRST dims of each vector instead of the tail."""
    n = 2 * len(freqs)
    out = x.copy()
    out[..., :n] = _orig_rope(x[..., :n], pos, freqs, inverse)
    return out


_orig_rope, _orig_step, _orig_swiglu = R.rope_tail, R.Compressor.step, R.swiglu


def ablations(model):
    """{name: (description, context manager factory)} for one loaded model."""
    hp, w = model.hp, model.w
    mscale = 0.1 * math.log(getattr(hp, "yarn_factor", 1.0)) + 1.0
    comp_freqs = model.freqs[True]

    def yarn_mscale(x, pos, freqs, inverse=False):
        y = _orig_rope(x, pos, freqs, inverse)
        if freqs is comp_freqs:
            n = 2 * len(freqs)
            y[..., -n:] *= mscale
        return y

    def no_inverse(x, pos, freqs, inverse=False):
        return x.copy() if inverse else _orig_rope(x, pos, freqs)

    def drop_series_a(self, a, pos):
        if self.overlap:
            self.sc[:self.m] = -np.inf
        return _orig_step(self, a, pos)

    def sym_clamp(g, u, clamp):
        return R.silu(np.clip(g, -clamp, clamp)) * np.clip(u, -clamp, clamp)

    def comb_untransposed(X, y, post, M):
        return post[:, None] * y[None, :] + M @ X

    def with_weights(**repl):
        @contextlib.contextmanager
        def cm():
            saved = {k: w[k] for k in repl}
            w.update(repl)
            try:
                yield
            finally:
                w.update(saved)
        return cm

    sinks = {k: np.full_like(v, -np.inf) for k, v in w.items() if k.endswith("attn_sinks.weight")}
    no_bias = {k: np.zeros_like(v) for k, v in w.items() if k.endswith("exp_probs_b.bias")}
    swapped = {}
    for k in w:
        if k.endswith("ffn_gate_exps.weight"):
            up = k.replace("ffn_gate_exps", "ffn_up_exps")
            swapped[k], swapped[up] = w[up], w[k]
    no_yarn_freqs = R.rope_freqs(type("H", (), dict(vars(hp), yarn=False))(), True)

    return {
        "rope_half_split": ("NeoX half-split pairs instead of interleaved (2k, 2k+1)",
                            lambda: patched((R, "rope_tail", rope_neox))),
        "rope_on_first_dims": ("RoPE on the first rope_dims of a head instead of the last",
                               lambda: patched((R, "rope_tail", rope_on_head))),
        "no_yarn": ("plain RoPE (compressed base) on compressed layers",
                    lambda: patched((model, "freqs", {False: model.freqs[False], True: no_yarn_freqs}))),
        "yarn_mscale": (f"YaRN magnitude 0.1·ln(s)+1 = {mscale:.4f} applied to cos/sin",
                        lambda: patched((R, "rope_tail", yarn_mscale))),
        "no_inverse_rope": ("attention output not de-rotated before the output projection",
                            lambda: patched((R, "rope_tail", no_inverse))),
        "compressed_rope_at_emit": ("compressed row rotated at the emitting position p, not p+1-m",
                                    lambda: patched((R, "compressed_row_position", lambda p, r: p))),
        "csa_rope_at_overlap_start": ("ratio-4 row rotated at the 8-token window start p+1-2m",
                                      lambda: patched((R, "compressed_row_position",
                                                       lambda p, r: p + 1 - (2 * r if r == 4 else r)))),
        "no_overlap_series_a": ("ratio-4 compressor ignores the previous window's series A",
                                lambda: patched((R.Compressor, "step", drop_series_a))),
        "indexer_keeps_all": ("no lightning-indexer selection (all compressed rows attended)",
                              lambda: patched((hp, "idx_topk", 10 ** 9))),
        "window_plus_one": ("raw window of sliding_window+1 rows",
                            lambda: patched((hp, "window", hp.window + 1))),
        "no_sinks": ("attention sinks left out of the softmax", with_weights(**sinks)),
        "comb_not_transposed": ("HC post mixes with M·X instead of Mᵀ·X",
                                lambda: patched((R, "hc_post", comb_untransposed))),
        "sinkhorn_one_iteration": ("a single Sinkhorn normalisation instead of hc_sinkhorn_iters",
                                   lambda: patched((hp, "sinkhorn_iters", 1))),
        "hash_layers_topk_routed": ("hash layers routed by top-k instead of tid2eid",
                                    lambda: patched((hp, "n_hash", 0))),
        "router_bias_ignored": ("exp_probs_b not added for expert choice", with_weights(**no_bias)),
        "gate_up_swapped": ("converter swaps w1 (gate) and w3 (up)", with_weights(**swapped)),
        "no_swiglu_clamp": ("no SwiGLU clamp", lambda: patched((hp, "clamp", np.inf))),
        "gate_clamped_below_too": ("gate clamped to [-c, c] instead of min(g, c)",
                                   lambda: patched((R, "swiglu", sym_clamp))),
    }


def run(model, tokens):
    sess = R.Session(model)
    return np.stack([sess.step(int(t)) for t in tokens])


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
    names = sorted(n for n in os.listdir(root) if os.path.isfile(os.path.join(root, n, "config.json")))
    results = {}
    for name in names:
        fdir = os.path.join(root, name)
        model = R.Model(fdir)
        tokens = R.read_tokens(os.path.join(fdir, "tokens.txt"))
        full = np.fromfile(os.path.join(fdir, "logits_full.f32"), dtype="<f4").reshape(len(tokens), -1)
        base = np.abs(run(model, tokens) - full).max()
        results.setdefault("(none: ds4_ref as is)", ("", {}))[1][name] = (base, None)
        for key, (desc, cm) in ablations(model).items():
            with cm():
                d = np.abs(run(model, tokens) - full).max(axis=1)
            first = int(np.argmax(d > TOL)) if (d > TOL).any() else None
            results.setdefault(key, (desc, {}))[1][name] = (float(d.max()), first)
            print(f"{name} {key}: max {d.max():.3g} first>{TOL} at {first}", file=sys.stderr)
    print("| ablation | what changes | " + " | ".join(f"{n}: max |Δ| (first pos > {TOL})" for n in names) + " |")
    print("|---|---|" + "---|" * len(names))
    for key, (desc, per) in results.items():
        cells = []
        for n in names:
            mx, first = per[n]
            cells.append(f"{mx:.2g}" + (f" ({first})" if first is not None else ""))
        print(f"| {key} | {desc} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
