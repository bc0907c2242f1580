#!/usr/bin/env python3
"""Build tiny random DeepSeek V4 models with HF transformers and dump reference logits.

Runs on the GPU machine (it needs transformers >= 5 with `DeepseekV4ForCausalLM`); everything is
computed on the CPU so the numbers do not depend on cuBLAS/TF32 choices (TF32 is disabled anyway).

For every model in MODELS it writes, under OUT/fixtures/<name>/:
  config.json, model.safetensors   what `save_pretrained` writes (float32 weights)
  tokens.txt                       comma-separated token ids (BOS = 0 first, then seeded random ids)
  logits_full.f32                  one forward over the whole sequence, no cache
  logits_cached.f32                prefill of token 0 with use_cache=True, then one-token decode steps
  logits_chunked.f32               prefill in irregular chunks (CHUNKS) with the cache
  tensors.txt                      names / dtypes / shapes in the safetensors file and in the module
  transformers.json                versions, derived RoPE tables, per-position |Δ| of the paths
(logits files: raw little-endian float32, [n_tokens][vocab]).

It also writes OUT/diagnostics.json: the same comparisons in float64, on variants of model "tiny-a"
with the indexer made non-selective and/or the sliding window made longer than the sequence, the
first layer whose output differs, and per-position comparisons of indexer / router selections.
These are the measurements behind docs/reference-findings.md.
"""
import argparse
import copy
import json
import os
import random
import struct
import sys
import traceback

import torch

torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
torch.use_deterministic_algorithms(True)
torch.set_num_threads(4)

import transformers  # noqa: E402
from transformers import DeepseekV4Config, DeepseekV4ForCausalLM  # noqa: E402

S, CSA, HCA = "sliding_attention", "compressed_sparse_attention", "heavily_compressed_attention"

# Two tiny models. Ratio 4 stays 4 (it selects the overlapping CSA compressor everywhere: MODEL.md
# keys coff = 2 on ratio == 4); the HCA ratio is shrunk from 128 so ~200 tokens emit many rows.
MODELS = {
    # Non-default constants on purpose: a small compressed RoPE base and YaRN context make the YaRN
    # ramp visible at positions < 256, and a small SwiGLU limit makes the clamps fire often.
    "tiny-a": dict(
        seed=1234, n_tokens=256,
        config=dict(
            vocab_size=192, hidden_size=64, num_hidden_layers=6,
            num_attention_heads=4, num_key_value_heads=1, head_dim=32, partial_rotary_factor=0.5,
            q_lora_rank=32, o_groups=2, o_lora_rank=16,
            n_routed_experts=8, num_experts_per_tok=2, n_shared_experts=1, moe_intermediate_size=16,
            layer_types=[S, S, CSA, HCA, CSA, HCA],
            mlp_layer_types=["hash_moe"] * 3 + ["moe"] * 3,
            compress_rates={CSA: 4, HCA: 16},
            sliding_window=16, index_n_heads=8, index_head_dim=32, index_topk=8,
            rope_theta=10000.0, compress_rope_theta=1000.0,
            rope_parameters=dict(rope_type="yarn", factor=16.0, original_max_position_embeddings=2048,
                                 beta_fast=32.0, beta_slow=1.0),
            max_position_embeddings=32768,
            swiglu_limit=3.0,
        ),
        expert_gain=1.5,
    ),
    # The shipped constants (RoPE 10000 / 160000, YaRN 16 / 65536 / 32 / 1, clamp 10), other
    # widths, a CSA layer right after the sliding one, hash routing on a compressed layer.
    "tiny-b": dict(
        seed=777, n_tokens=224,
        config=dict(
            vocab_size=160, hidden_size=48, num_hidden_layers=5,
            num_attention_heads=4, num_key_value_heads=1, head_dim=16, partial_rotary_factor=0.5,
            q_lora_rank=24, o_groups=4, o_lora_rank=8,
            n_routed_experts=16, num_experts_per_tok=4, n_shared_experts=1, moe_intermediate_size=8,
            layer_types=[S, CSA, HCA, CSA, HCA],
            mlp_layer_types=["hash_moe"] * 2 + ["moe"] * 3,
            compress_rates={CSA: 4, HCA: 8},
            sliding_window=8, index_n_heads=8, index_head_dim=16, index_topk=4,
            rope_theta=10000.0, compress_rope_theta=160000.0,
            rope_parameters=dict(rope_type="yarn", factor=16.0, original_max_position_embeddings=65536,
                                 beta_fast=32.0, beta_slow=1.0),
            max_position_embeddings=1048576,
            swiglu_limit=10.0,
        ),
        expert_gain=1.0,
    ),
}

COMMON_CONFIG = dict(
    hc_mult=4, hc_sinkhorn_iters=20, hc_eps=1e-6, rms_norm_eps=1e-6,
    scoring_func="sqrtsoftplus", norm_topk_prob=True, routed_scaling_factor=1.5,
    tie_word_embeddings=False, bos_token_id=0, eos_token_id=1, attention_dropout=0.0,
)

# Chunk sizes for the chunked prefill: irregular so boundaries fall inside compressor windows and
# inside the sliding window; the last size repeats until the sequence is consumed.
CHUNKS = [5, 7, 20, 1, 31, 64]


def log(*a):
    print(*a, flush=True)


# ----------------------------------------------------------------------------------------------
# Model construction and O(1) random weights
# ----------------------------------------------------------------------------------------------

def make_config(spec, **overrides):
    kw = dict(COMMON_CONFIG)
    kw.update(copy.deepcopy(spec["config"]))
    kw.update(overrides)
    cfg = DeepseekV4Config(**kw)
    # Plain eager attention and the plain per-expert loop (the default grouped_mm experts kernel
    # has no float64 path): the simplest transformers code, and the same code for both dtypes.
    cfg._attn_implementation = "eager"
    cfg._experts_implementation = "eager"
    return cfg


def make_model(cfg):
    model = DeepseekV4ForCausalLM(cfg).to(torch.float32).eval()
    model.config._attn_implementation = "eager"
    model.config._experts_implementation = "eager"
    return model


@torch.no_grad()
def randomize(model, seed, expert_gain):
    """Overwrite every parameter/buffer so activations are O(1) and every term matters.

    Linear weights ~ N(0, 1/fan_in); norm weights ~ 1 + 0.1 N; embeddings ~ N(0, 1);
    HC fn ~ N(0, 1/fan_in), HC base ~ 0.5 N, HC scale ~ U(0.5, 1.5); sinks ~ N(0, 1);
    compressor position biases ~ 0.5 N; router score-correction bias ~ 0.1 N;
    hash table rows = distinct random experts per token.
    """
    g = torch.Generator().manual_seed(seed)

    def normal(t, std):
        t.copy_(torch.randn(t.shape, generator=g, dtype=torch.float64).to(t.dtype) * std)

    def uniform(t, lo, hi):
        t.copy_((lo + (hi - lo) * torch.rand(t.shape, generator=g, dtype=torch.float64)).to(t.dtype))

    done = set()
    for mname, mod in model.named_modules():
        cls = type(mod).__name__
        pref = mname + "." if mname else ""
        if isinstance(mod, torch.nn.Embedding):
            normal(mod.weight, 1.0)
            done.add(pref + "weight")
        elif isinstance(mod, torch.nn.Linear):
            normal(mod.weight, mod.weight.shape[-1] ** -0.5)
            done.add(pref + "weight")
        elif cls.endswith("RMSNorm") and hasattr(mod, "weight"):
            mod.weight.copy_(1.0 + 0.1 * torch.randn(mod.weight.shape, generator=g, dtype=torch.float64))
            done.add(pref + "weight")
        elif cls.endswith("Experts"):
            gu, dn = mod.gate_up_proj, mod.down_proj  # [E, 2I, H], [E, H, I]
            normal(gu, expert_gain * gu.shape[-1] ** -0.5)
            normal(dn, dn.shape[-1] ** -0.5)
            done.update({pref + "gate_up_proj", pref + "down_proj"})
        elif cls.endswith("Router"):
            normal(mod.weight, mod.weight.shape[-1] ** -0.5)
            done.add(pref + "weight")
            if hasattr(mod, "e_score_correction_bias"):
                normal(mod.e_score_correction_bias, 0.1)
                done.add(pref + "e_score_correction_bias")
            if hasattr(mod, "tid2eid"):
                vocab, k = mod.tid2eid.shape
                n_exp = mod.num_experts
                rows = [torch.randperm(n_exp, generator=g)[:k] for _ in range(vocab)]
                mod.tid2eid.copy_(torch.stack(rows).to(mod.tid2eid.dtype))
                done.add(pref + "tid2eid")
        elif cls.endswith("HyperConnection"):
            normal(mod.fn, mod.fn.shape[-1] ** -0.5)
            normal(mod.base, 0.5)
            uniform(mod.scale, 0.5, 1.5)
            done.update({pref + "fn", pref + "base", pref + "scale"})
        elif cls.endswith("HyperHead"):
            normal(mod.hc_fn, mod.hc_fn.shape[-1] ** -0.5)
            normal(mod.hc_base, 0.5)
            uniform(mod.hc_scale, 0.5, 1.5)
            done.update({pref + "hc_fn", pref + "hc_base", pref + "hc_scale"})
        if hasattr(mod, "sinks") and isinstance(getattr(mod, "sinks"), torch.nn.Parameter):
            normal(mod.sinks, 1.0)
            done.add(pref + "sinks")
        if hasattr(mod, "position_bias") and isinstance(getattr(mod, "position_bias"), torch.nn.Parameter):
            normal(mod.position_bias, 0.5)
            done.add(pref + "position_bias")
    missed = [n for n, _ in model.named_parameters() if n not in done]
    missed += [n for n, _ in model.named_buffers() if n in model.state_dict() and n not in done]
    return missed


# ----------------------------------------------------------------------------------------------
# The three transformers paths
# ----------------------------------------------------------------------------------------------

@torch.no_grad()
def run_full(model, ids):
    return model(input_ids=ids, use_cache=False).logits[0]


@torch.no_grad()
def run_cached(model, ids):
    """Prefill token 0 with a fresh cache, then feed one token per call."""
    out = model(input_ids=ids[:, :1], use_cache=True)
    pkv, rows = out.past_key_values, [out.logits[0]]
    for t in range(1, ids.shape[1]):
        out = model(input_ids=ids[:, t:t + 1], past_key_values=pkv, use_cache=True)
        pkv = out.past_key_values
        rows.append(out.logits[0])
    return torch.cat(rows, 0)


def chunk_sizes(n):
    sizes, i = [], 0
    while sum(sizes) < n:
        s = CHUNKS[min(i, len(CHUNKS) - 1)]
        sizes.append(min(s, n - sum(sizes)))
        i += 1
    return sizes


@torch.no_grad()
def run_chunked(model, ids):
    pkv, rows, start = None, [], 0
    for size in chunk_sizes(ids.shape[1]):
        out = model(input_ids=ids[:, start:start + size], past_key_values=pkv, use_cache=True)
        pkv = out.past_key_values
        rows.append(out.logits[0])
        start += size
    return torch.cat(rows, 0)


def per_pos_diff(a, b):
    return (a.double() - b.double()).abs().max(dim=-1).values.tolist()


def first_above(diffs, tol):
    for i, d in enumerate(diffs):
        if d > tol:
            return i
    return None


# ----------------------------------------------------------------------------------------------
# Output helpers
# ----------------------------------------------------------------------------------------------

def write_f32(path, t):
    with open(path, "wb") as f:
        f.write(t.detach().to(torch.float32).contiguous().cpu().numpy().astype("<f4").tobytes())


def safetensors_header(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        return json.loads(f.read(n))


def write_tensor_list(path, st_path, model):
    hdr = safetensors_header(st_path)
    lines = ["# tensors in model.safetensors (as written by save_pretrained): name dtype shape"]
    for name in sorted(k for k in hdr if k != "__metadata__"):
        lines.append(f"{name} {hdr[name]['dtype']} {list(hdr[name]['shape'])}")
    lines.append("")
    lines.append("# module state_dict (in-memory names): name dtype shape")
    for name, t in model.state_dict().items():
        lines.append(f"{name} {str(t.dtype).replace('torch.', '')} {list(t.shape)}")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def rope_tables(model):
    rot = model.model.rotary_emb
    out = {}
    for lt in getattr(rot, "layer_types", []):
        out[lt] = dict(inv_freq=getattr(rot, f"{lt}_inv_freq").double().tolist(),
                       attention_scaling=float(getattr(rot, f"{lt}_attention_scaling")))
    return out


def tokens_for(spec):
    rng = random.Random(spec["seed"])
    vocab = spec["config"]["vocab_size"]
    return [0] + [rng.randrange(2, vocab) for _ in range(spec["n_tokens"] - 1)]


# ----------------------------------------------------------------------------------------------
# Fixtures
# ----------------------------------------------------------------------------------------------

def build_fixture(name, spec, out_root):
    d = os.path.join(out_root, "fixtures", name)
    os.makedirs(d, exist_ok=True)
    cfg = make_config(spec)
    model = make_model(cfg)
    missed = randomize(model, spec["seed"], spec["expert_gain"])
    log(f"[{name}] params not covered by init rules: {missed}")
    toks = tokens_for(spec)
    ids = torch.tensor([toks], dtype=torch.long)

    full = run_full(model, ids)
    cached = run_cached(model, ids)
    chunked = run_chunked(model, ids)

    model.save_pretrained(d, safe_serialization=True)
    if os.path.exists(os.path.join(d, "generation_config.json")):
        os.remove(os.path.join(d, "generation_config.json"))  # not part of the fixture
    st_files = sorted(f for f in os.listdir(d) if f.endswith(".safetensors"))
    write_tensor_list(os.path.join(d, "tensors.txt"), os.path.join(d, st_files[0]), model)

    # The saved file must reproduce the in-memory model exactly (names, buffers like tid2eid).
    reloaded = DeepseekV4ForCausalLM.from_pretrained(
        d, dtype=torch.float32, attn_implementation="eager", experts_implementation="eager").eval()
    reload_diff = max(per_pos_diff(run_full(reloaded, ids), full))

    with open(os.path.join(d, "tokens.txt"), "w") as f:
        f.write(",".join(map(str, toks)) + "\n")
    write_f32(os.path.join(d, "logits_full.f32"), full)
    write_f32(os.path.join(d, "logits_cached.f32"), cached)
    write_f32(os.path.join(d, "logits_chunked.f32"), chunked)

    # float64 copies of the same weights: separates rounding effects from structural ones.
    m64 = copy.deepcopy(model).double()
    full64, cached64, chunked64 = run_full(m64, ids), run_cached(m64, ids), run_chunked(m64, ids)

    info = dict(
        name=name, seed=spec["seed"], n_tokens=len(toks), expert_gain=spec["expert_gain"],
        transformers=transformers.__version__, torch=torch.__version__, device="cpu",
        dtype="float32", tf32=False, chunk_sizes=chunk_sizes(len(toks)),
        safetensors_files=st_files, params_not_randomized=missed,
        reload_full_max_abs_diff=reload_diff,
        config_layer_types=list(cfg.layer_types), config_mlp_layer_types=list(cfg.mlp_layer_types),
        config_compress_rates=dict(cfg.compress_rates), config_rope_parameters=cfg.rope_parameters,
        rope=rope_tables(model),
        # per-position comparisons of the f32 files are recomputed by make_manifest.py; the f64
        # copies are not stored, so keep their maxima here
        max_abs_diff_f64=dict(full_vs_cached=max(per_pos_diff(full64, cached64)),
                              full_vs_chunked=max(per_pos_diff(full64, chunked64)),
                              cached_vs_chunked=max(per_pos_diff(cached64, chunked64)),
                              full64_vs_full32=max(per_pos_diff(full64, full)),
                              cached64_vs_cached32=max(per_pos_diff(cached64, cached))),
    )
    with open(os.path.join(d, "transformers.json"), "w") as f:
        json.dump(info, f, indent=1)
    for k, v in dict(full_vs_cached=cached, full_vs_chunked=chunked).items():
        diffs = per_pos_diff(full, v)
        log(f"[{name}] f32 {k}: max {max(diffs):.3e}, first>1e-3 at {first_above(diffs, 1e-3)}")
    for k, v in info["max_abs_diff_f64"].items():
        log(f"[{name}] f64 {k}: max {v:.3e}")
    log(f"[{name}] reload max diff {reload_diff:.3e}")
    return model, ids


# ----------------------------------------------------------------------------------------------
# Diagnostics: why do the transformers paths disagree?
# ----------------------------------------------------------------------------------------------

class Recorder:
    """Forward hooks recording, per call, the indexer's top-k picks and scores and the router's
    expert picks together with the score gap between the k-th and (k+1)-th candidate."""

    def __init__(self, model):
        self.events, self.handles = [], []
        for mname, mod in model.named_modules():
            kind = {"Indexer": "indexer", "IndexerScorer": "scores",
                    "TopKRouter": "router", "HashRouter": "hash_router"}.get(type(mod).__name__.replace("DeepseekV4", ""))
            if kind:
                self.handles.append(mod.register_forward_hook(self._hook(mname, kind)))

    def _hook(self, mname, kind):
        def fn(mod, inp, out):
            if kind in ("indexer", "scores"):
                self.events.append((mname, kind, out.detach().clone(), None))
            elif kind == "router":
                logits, _, idx = out
                s = mod.score_fn(logits.double()) + mod.e_score_correction_bias.double()
                top = torch.sort(s, dim=-1, descending=True).values
                gap = (top[:, mod.top_k - 1] - top[:, mod.top_k]) if top.shape[-1] > mod.top_k else None
                self.events.append((mname, kind, idx.detach().clone(), gap))
        return fn

    def close(self):
        for h in self.handles:
            h.remove()


def selections(events, kind):
    """{module: [per-token selection as a sorted tuple of valid ids]} concatenated over the calls."""
    res = {}
    for mname, k, t, _ in events:
        if k != kind:
            continue
        n_rows = t.numel() // t.shape[-1] if t.shape[-1] else int(torch.tensor(t.shape[:-1]).prod())
        rows = t.reshape(n_rows, t.shape[-1]).tolist()
        res.setdefault(mname, []).extend(tuple(sorted(x for x in r if x >= 0)) for r in rows)
    return res


def router_gaps(events):
    res = {}
    for mname, k, _, gap in events:
        if k == "router" and gap is not None:
            res.setdefault(mname, []).extend(gap.tolist())
    return res


def indexer_scores(events):
    """{indexer module: (full-call scores [S, T] or None, [per-decode-call score rows])}."""
    res = {}
    for mname, k, t, _ in events:
        if k != "scores":
            continue
        full, rows = res.setdefault(mname.rsplit(".scorer", 1)[0], [None, []])
        if t.shape[1] == 1:
            rows.append(t[0, 0].double())
        else:
            res[mname.rsplit(".scorer", 1)[0]][0] = t[0].double()
    return res


def indexer_gaps(scores, topk, ratio):
    """{indexer module: per position gap between the k-th and (k+1)-th visible score}."""
    res = {}
    for mname, (full, _) in scores.items():
        if full is None:
            continue
        gaps = []
        for p in range(full.shape[0]):
            nvis = min((p + 1) // ratio, full.shape[1])
            v = torch.sort(full[p, :nvis], descending=True).values
            gaps.append(float(v[topk - 1] - v[topk]) if nvis > topk else None)
        res[mname] = gaps
    return res


def indexer_mismatch_detail(scores_full, scores_cached, positions, topk, ratio):
    """At mismatching positions: scores around the top-k boundary in both paths and their distance."""
    out = {}
    for mname, (full, _) in scores_full.items():
        rows = scores_cached.get(mname, [None, []])[1]
        det = []
        for p in positions.get(mname, []):
            nvis = (p + 1) // ratio
            a, b = full[p, :nvis], rows[p][:nvis] if p < len(rows) else None
            sa = torch.sort(a, descending=True)
            entry = dict(pos=p, n_visible=nvis, full_boundary=sa.values[topk - 2:topk + 2].tolist(),
                         full_boundary_ids=sa.indices[topk - 2:topk + 2].tolist())
            if b is not None:
                sb = torch.sort(b, descending=True)
                entry.update(cached_boundary=sb.values[topk - 2:topk + 2].tolist(),
                             cached_boundary_ids=sb.indices[topk - 2:topk + 2].tolist(),
                             max_abs_score_diff=float((a - b).abs().max()))
            det.append(entry)
        if det:
            out[mname] = det
    return out


def compare_selections(full_sel, cached_sel, gaps=None):
    out = {}
    for mname in full_sel:
        a, b = full_sel[mname], cached_sel.get(mname, [])
        bad = [i for i in range(min(len(a), len(b))) if a[i] != b[i]]
        entry = dict(n=len(a), n_cached=len(b), n_mismatch=len(bad), mismatch_positions=bad[:40])
        if gaps and mname in gaps and bad:
            entry["gap_at_mismatch"] = [gaps[mname][i] for i in bad[:40]]
        if gaps and mname in gaps:
            g = [x for x in gaps[mname] if x is not None]
            entry["min_gap_all_positions"] = min(g) if g else None
        out[mname] = entry
    return out


@torch.no_grad()
def layer_outputs(model, ids, cached):
    """Per-layer HC state of every position (list over hidden_states entries of [S, ...])."""
    if not cached:
        hs = model(input_ids=ids, use_cache=False, output_hidden_states=True).hidden_states
        return [h[0] for h in hs]
    out = model(input_ids=ids[:, :1], use_cache=True, output_hidden_states=True)
    pkv, per = out.past_key_values, [[h[0]] for h in out.hidden_states]
    for t in range(1, ids.shape[1]):
        out = model(input_ids=ids[:, t:t + 1], past_key_values=pkv, use_cache=True, output_hidden_states=True)
        pkv = out.past_key_values
        for i, h in enumerate(out.hidden_states):
            per[i].append(h[0])
    return [torch.cat(p, 0) for p in per]


def probe(model, ids, tol, ref=None):
    """Full vs cached on one model: per-position |Δ|, selection mismatches, first diverging layer;
    with `ref` (CPU float32 full-forward logits) also both paths against it."""
    rec = Recorder(model)
    full = run_full(model, ids)
    n_full = len(rec.events)
    cached = run_cached(model, ids)
    rec.close()
    ev_full, ev_cached = rec.events[:n_full], rec.events[n_full:]
    d = per_pos_diff(full, cached)
    cfg = model.config
    ratio = cfg.compress_rates[CSA]
    sc_full, sc_cached = indexer_scores(ev_full), indexer_scores(ev_cached)
    idx = compare_selections(selections(ev_full, "indexer"), selections(ev_cached, "indexer"),
                             indexer_gaps(sc_full, cfg.index_topk, ratio))
    entry = dict(
        max=max(d), first_above_tol=first_above(d, tol), tol=tol, full_vs_cached=d, indexer=idx,
        indexer_mismatch_detail=indexer_mismatch_detail(
            sc_full, sc_cached, {m: v["mismatch_positions"] for m, v in idx.items()}, cfg.index_topk, ratio),
        router=compare_selections(selections(ev_full, "router"), selections(ev_cached, "router"),
                                  router_gaps(ev_full)))
    if ref is not None:
        entry["full_vs_ref"] = per_pos_diff(full.cpu(), ref)
        entry["cached_vs_ref"] = per_pos_diff(cached.cpu(), ref)
    if entry["first_above_tol"] is not None:
        lf, lc = layer_outputs(model, ids, False), layer_outputs(model, ids, True)
        entry["per_layer_first_diverging_position"] = [
            first_above((x - y).abs().flatten(1).max(dim=-1).values.tolist(), tol) for x, y in zip(lf, lc)]
    return entry


def diagnose(spec, base_model, ids, out_root):
    """Look for the conditions under which transformers' full and cached paths disagree."""
    base_state = base_model.state_dict()
    hf_default_init = "hf_default_init"  # transformers' own init: std 0.02 weights, zero biases/sinks
    variants = [
        ("as_built", {}, None),
        ("indexer_keeps_all", dict(index_topk=100000), None),
        ("window_covers_all", dict(sliding_window=100000), None),
        ("hca128_window128", dict(compress_rates={CSA: 4, HCA: 128}, sliding_window=128), None),
        ("hf_init", {}, hf_default_init),
        ("hf_init_hca128_window128_topk32",
         dict(compress_rates={CSA: 4, HCA: 128}, sliding_window=128, index_topk=32), hf_default_init),
        ("hf_init_topk32", dict(index_topk=32), hf_default_init),
    ]
    # (name, device, dtype, experts implementation) for the fixture weights
    numeric_variants = [("cpu_bf16", "cpu", torch.bfloat16, "eager"),
                        ("cuda_f32_no_tf32", "cuda", torch.float32, "eager"),
                        ("cuda_f32_grouped_mm", "cuda", torch.float32, "grouped_mm"),
                        ("cuda_bf16", "cuda", torch.bfloat16, "eager")]
    diag = {}
    ref = run_full(base_model, ids)
    for vname, over, init in variants:
        entry = dict(overrides=over, init=init or "fixture weights")
        try:
            torch.manual_seed(0)
            m = make_model(make_config(spec, **over))
            if init is None:
                state = dict(base_state)
                for n, t in m.state_dict().items():  # shapes that the overrides changed: fresh random
                    if state[n].shape != t.shape:
                        state[n] = torch.randn(t.shape, generator=torch.Generator().manual_seed(5)) * 0.5
                m.load_state_dict(state)
            else:  # keep transformers' init, but a real hash table (its default is all zeros)
                for n, t in m.state_dict().items():
                    if n.endswith("tid2eid"):
                        t.copy_(base_state[n])
            entry["f32"] = probe(m, ids, 1e-3)
            entry["f64"] = probe(m.double(), ids, 1e-4)
            for dt in ("f32", "f64"):
                e = entry[dt]
                log(f"[diag {vname}] {dt} full-vs-cached max {e['max']:.3e} first>{e['tol']} at {e['first_above_tol']}"
                    f" layers {e.get('per_layer_first_diverging_position')}")
                for kind in ("indexer", "router"):
                    for mname, v in e[kind].items():
                        if v["n_mismatch"]:
                            log(f"    {kind} {mname}: {v['n_mismatch']} mismatches at {v['mismatch_positions'][:8]}"
                                f" gaps {v.get('gap_at_mismatch', [])[:4]} min gap {v.get('min_gap_all_positions')}")
                for mname, det in e["indexer_mismatch_detail"].items():
                    for x in det[:3]:
                        log(f"    detail {mname}: {x}")
        except Exception as e:  # keep going: a failing variant is itself a finding
            entry.update(error=repr(e), trace=traceback.format_exc())
            log(f"[diag {vname}] FAILED: {e!r}")
        diag[vname] = entry
    for vname, device, dtype, experts in numeric_variants:
        entry = dict(device=device, dtype=str(dtype), experts_implementation=experts)
        try:
            if device == "cuda" and not torch.cuda.is_available():
                raise RuntimeError("no CUDA device")
            m = make_model(make_config(spec))
            m.load_state_dict(base_state)
            m.config._experts_implementation = experts
            m = m.to(device=device, dtype=dtype)
            e = probe(m, ids.to(device), 1e-3, ref)
            entry.update(e)
            log(f"[diag {vname}] full-vs-cached max {e['max']:.3e} first>1e-3 at {e['first_above_tol']};"
                f" vs cpu f32: full {max(e['full_vs_ref']):.3e} cached {max(e['cached_vs_ref']):.3e}"
                f" layers {e.get('per_layer_first_diverging_position')}")
            for kind in ("indexer", "router"):
                for mname, v in e[kind].items():
                    if v["n_mismatch"]:
                        log(f"    {kind} {mname}: {v['n_mismatch']} mismatches at {v['mismatch_positions'][:8]}")
        except Exception as ex:
            entry.update(error=repr(ex), trace=traceback.format_exc())
            log(f"[diag {vname}] FAILED: {ex!r}")
        diag[vname] = entry
    with open(os.path.join(out_root, "diagnostics.json"), "w") as f:
        json.dump(diag, f, indent=1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--only", default=None, help="comma-separated model names")
    ap.add_argument("--no-diag", action="store_true")
    args = ap.parse_args()
    log(f"python {sys.version.split()[0]} torch {torch.__version__} transformers {transformers.__version__}")
    names = args.only.split(",") if args.only else list(MODELS)
    built = {}
    for name in names:
        try:
            built[name] = build_fixture(name, MODELS[name], args.out)
        except Exception as e:
            log(f"[{name}] FAILED: {e!r}")
            traceback.print_exc()
    if not args.no_diag and "tiny-a" in built:
        diagnose(MODELS["tiny-a"], *built["tiny-a"], args.out)


if __name__ == "__main__":
    main()
