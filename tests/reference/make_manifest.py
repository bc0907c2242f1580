#!/usr/bin/env python3
"""Run ds4_ref.py on every fixture and write logits_ds4ref.f32, manifest.json and trusted.txt.

    python3 tests/reference/make_manifest.py [tests/reference/fixtures]

Needs only numpy. The fixtures themselves (weights, tokens, transformers logits) come from
make_fixtures.py on a machine with transformers. See docs/reference-findings.md.
"""
import hashlib
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ds4_ref  # noqa: E402

PATHS = ("full", "cached", "chunked")
# transformers logits count as trusted where all three of its paths and ds4_ref agree this well
TRUST_TOL = 1e-4
RANGE = 32  # per-position statistics are summarised over blocks of this many positions


def gguf_metadata(hp):
    """MODEL.md §A.3 keys with this tiny model's values (what a converter must write)."""
    return {
        "deepseek4.block_count": hp.n_layer,
        "deepseek4.embedding_length": hp.d,
        "deepseek4.vocab_size": hp.vocab,
        "deepseek4.attention.head_count": hp.n_head,
        "deepseek4.attention.head_count_kv": 1,
        "deepseek4.attention.key_length": hp.head_dim,
        "deepseek4.attention.value_length": hp.head_dim,
        "deepseek4.rope.dimension_count": hp.rot,
        "deepseek4.attention.q_lora_rank": hp.q_lora,
        "deepseek4.attention.output_lora_rank": hp.o_lora,
        "deepseek4.attention.output_group_count": hp.o_groups,
        "deepseek4.expert_count": hp.n_expert,
        "deepseek4.expert_used_count": hp.n_used,
        "deepseek4.expert_feed_forward_length": hp.ff,
        "deepseek4.expert_shared_count": 1,
        "deepseek4.hash_layer_count": hp.n_hash,
        "deepseek4.attention.sliding_window": hp.window,
        "deepseek4.attention.indexer.head_count": hp.idx_heads,
        "deepseek4.attention.indexer.key_length": hp.idx_dim,
        "deepseek4.attention.indexer.top_k": hp.idx_topk,
        "deepseek4.hyper_connection.count": hp.n_hc,
        "deepseek4.hyper_connection.sinkhorn_iterations": hp.sinkhorn_iters,
        "deepseek4.attention.compress_ratios": hp.ratios,
        "deepseek4.swiglu_clamp_exp": [hp.clamp] * hp.n_layer,
        "deepseek4.rope.scaling.original_context_length": hp.yarn_orig_ctx if hp.yarn else None,
        "deepseek4.rope.freq_base": hp.rope_base,
        "deepseek4.rope.scaling.factor": hp.yarn_factor if hp.yarn else None,
        "deepseek4.rope.scaling.yarn_beta_fast": hp.yarn_beta_fast if hp.yarn else None,
        "deepseek4.rope.scaling.yarn_beta_slow": hp.yarn_beta_slow if hp.yarn else None,
        "deepseek4.attention.compress_rope_freq_base": hp.compress_rope_base,
        "deepseek4.expert_weights_scale": hp.expert_scale,
        "deepseek4.attention.layer_norm_rms_epsilon": hp.rms_eps,
        "deepseek4.hyper_connection.epsilon": hp.hc_eps,
        "deepseek4.expert_weights_norm": True,
    }


def per_pos(a, b):
    return np.abs(a.astype(np.float64) - b.astype(np.float64)).max(axis=1)


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def build(fdir):
    name = os.path.basename(os.path.normpath(fdir))
    with open(os.path.join(fdir, "config.json")) as f:
        hp = ds4_ref.Hparams(json.load(f))
    tokens = ds4_ref.read_tokens(os.path.join(fdir, "tokens.txt"))
    n, V = len(tokens), hp.vocab

    ref, stats = ds4_ref.run(fdir, tokens)
    ref.astype("<f4").tofile(os.path.join(fdir, "logits_ds4ref.f32"))
    ref32 = ref.astype(np.float32)
    logits = {p: np.fromfile(os.path.join(fdir, f"logits_{p}.f32"), dtype="<f4").reshape(n, V) for p in PATHS}
    logits["ds4ref"] = ref32

    pairs = [("full", "cached"), ("full", "chunked"), ("cached", "chunked"),
             ("ds4ref", "full"), ("ds4ref", "cached"), ("ds4ref", "chunked")]
    diffs = {f"{a}_vs_{b}": per_pos(logits[a], logits[b]) for a, b in pairs}

    ok = np.ones(n, bool)
    for d in diffs.values():
        ok &= d <= TRUST_TOL
    end = int(np.argmin(ok)) if not ok.all() else n  # trusted = the longest agreeing prefix

    with open(os.path.join(fdir, "transformers.json")) as f:
        tf_info = json.load(f)
    manifest = dict(
        name=name,
        description="tiny random DeepSeek V4 (transformers DeepseekV4ForCausalLM, float32 weights)",
        n_tokens=n, vocab=V,
        logits_layout="raw little-endian float32 [n_tokens][vocab], row p = logits after token p",
        logits_files={
            "logits_full.f32": "transformers, one forward over all tokens, no cache (CPU float32)",
            "logits_cached.f32": "transformers, prefill token 0 with use_cache, then one token per call",
            "logits_chunked.f32": f"transformers, chunked prefill with the cache, chunk sizes {tf_info['chunk_sizes']}",
            "logits_ds4ref.f32": "ds4_ref.py (MODEL.md §C, numerics profile exact, float64 rounded to float32)",
        },
        dims=dict(layers=hp.n_layer, hidden=hp.d, vocab=V, heads=hp.n_head, head_dim=hp.head_dim, rope_dims=hp.rot,
                  q_lora_rank=hp.q_lora, o_groups=hp.o_groups, o_lora_rank=hp.o_lora, experts=hp.n_expert,
                  experts_used=hp.n_used, expert_ff=hp.ff, hash_layers=hp.n_hash, compress_ratios=hp.ratios,
                  sliding_window=hp.window, indexer_heads=hp.idx_heads, indexer_head_dim=hp.idx_dim,
                  indexer_top_k=hp.idx_topk, hc=hp.n_hc, sinkhorn_iters=hp.sinkhorn_iters, swiglu_clamp=hp.clamp),
        rope=dict(main_base=hp.rope_base, compressed_base=hp.compress_rope_base, yarn=hp.yarn,
                  yarn_factor=getattr(hp, "yarn_factor", None), yarn_original_ctx=getattr(hp, "yarn_orig_ctx", None),
                  main_freqs=ds4_ref.rope_freqs(hp, False).tolist(),
                  compressed_freqs=ds4_ref.rope_freqs(hp, True).tolist(),
                  transformers_inv_freq={k: v["inv_freq"] for k, v in tf_info["rope"].items()}),
        gguf_metadata=gguf_metadata(hp),
        max_abs_diff={k: float(v.max()) for k, v in diffs.items()},
        max_abs_diff_transformers_f64=tf_info.get("max_abs_diff_f64"),
        per_range=[dict(positions=[b, min(b + RANGE, n) - 1], **{k: float(v[b:b + RANGE].max()) for k, v in diffs.items()})
                   for b in range(0, n, RANGE)],
        logit_scale=dict(std=float(ref.std()), max_abs=float(np.abs(ref).max())),
        selection_margins=dict(
            router_min_gap=float(stats.get("router_min_gap", float("nan"))),
            indexer_min_gap=float(stats.get("indexer_min_gap", float("nan"))),
            note="smallest gap between the k-th and (k+1)-th score over all positions/layers in ds4_ref; "
                 "an implementation whose scores err by more than this may pick other experts/rows"),
        trusted=dict(begin=0, end=end, tolerance=TRUST_TOL,
                     rule="longest prefix of positions where full, cached, chunked and ds4_ref agree pairwise "
                          "within tolerance (max |Δlogit| per row); trusted.txt holds 'begin end' (end exclusive)"),
        suggested_test_tolerance=dict(
            vs_ds4ref_max_abs=1e-3, vs_transformers_max_abs=1e-3,
            note="float32 transformers vs float64 ds4_ref differ by < 1e-5 here; 1e-3 leaves room for other "
                 "summation orders while still catching every ablation in docs/reference-findings.md"),
        provenance=dict(transformers=tf_info["transformers"], torch=tf_info["torch"], device=tf_info["device"],
                        dtype=tf_info["dtype"], tf32=tf_info["tf32"], seed=tf_info["seed"],
                        expert_gain=tf_info["expert_gain"], reload_full_max_abs_diff=tf_info["reload_full_max_abs_diff"],
                        generator="tests/reference/make_fixtures.py"),
        sha256={f: sha256(os.path.join(fdir, f)) for f in sorted(os.listdir(fdir))
                if f not in ("manifest.json",)},
    )
    with open(os.path.join(fdir, "trusted.txt"), "w") as f:
        f.write(f"0 {end}\n")
    manifest["sha256"]["trusted.txt"] = sha256(os.path.join(fdir, "trusted.txt"))
    with open(os.path.join(fdir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    return manifest


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
    for name in sorted(os.listdir(root)):
        fdir = os.path.join(root, name)
        if not os.path.isfile(os.path.join(fdir, "config.json")):
            continue
        m = build(fdir)
        print(f"{name}: trusted 0..{m['trusted']['end']} of {m['n_tokens']}; "
              + ", ".join(f"{k} {v:.2e}" for k, v in m["max_abs_diff"].items()))


if __name__ == "__main__":
    main()
