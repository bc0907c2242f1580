#!/usr/bin/env python3
"""Independent float64 reference of the DeepSeek V4 forward pass, MODEL.md §C, profile `exact`.

`exact` = MODEL.md without any of ds4's numeric simulations: no FP8 KV rounding, no Hadamard/FP4 in
the indexer, no F16 cache rounding, no Q8 activations. Everything else follows MODEL.md §C, one token
at a time in decode order (§C.6); prefill is by definition the same (§C.7). Only numpy is needed.

Reads a directory holding `config.json` + `*.safetensors` in any HF spelling (see hf_names.py).
Tie rules: router and indexer top-k keep the lowest index on equal scores (MODEL.md §H.8).

    python3 ds4_ref.py MODEL_DIR [--tokens tokens.txt] [--out logits.f32]
"""
import argparse
import glob
import json
import math
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hf_names import to_gguf  # noqa: E402

F64 = np.float64
ROUTER_DENOM_FLOOR = 2.0 ** -14  # MODEL.md §C.4: max(Σ p, 6.103515625e-5)

# ------------------------------------------------------------------------------------------------
# Loading
# ------------------------------------------------------------------------------------------------

_ST_DTYPES = {"F32": "<f4", "F64": "<f8", "F16": "<f2", "I64": "<i8", "I32": "<i4"}


def read_safetensors(path):
    """{name: numpy array}; a minimal reader (8-byte LE header length, JSON header, raw data)."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] not in _ST_DTYPES:
            raise ValueError(f"{path}: tensor {name} has unsupported dtype {info['dtype']}")
        b, e = info["data_offsets"]
        out[name] = np.frombuffer(data[b:e], dtype=_ST_DTYPES[info["dtype"]]).reshape(info["shape"])
    return out


class Hparams:
    """MODEL.md §A quantities, derived from a transformers DeepseekV4 config.json.

    Accepts the transformers spelling (`layer_types` + `compress_rates`, `mlp_layer_types`,
    nested `rope_parameters`) and the official one (`compress_ratios`, `num_hash_layers`,
    `qk_rope_head_dim`, `rope_scaling`).
    """

    def __init__(self, cfg):
        self.n_layer = cfg["num_hidden_layers"]
        self.d = cfg["hidden_size"]
        self.vocab = cfg["vocab_size"]
        self.n_head = cfg["num_attention_heads"]
        self.head_dim = cfg["head_dim"]
        if cfg.get("num_key_value_heads", 1) != 1:
            raise ValueError("DeepSeek V4 has one shared K=V head")
        self.rot = cfg.get("qk_rope_head_dim") or int(self.head_dim * cfg["partial_rotary_factor"])
        self.q_lora = cfg["q_lora_rank"]
        self.o_groups = cfg["o_groups"]
        self.o_lora = cfg["o_lora_rank"]
        self.n_expert = cfg["n_routed_experts"]
        self.n_used = cfg["num_experts_per_tok"]
        if cfg.get("n_shared_experts", 1) != 1:
            raise ValueError("exactly one shared expert expected")
        self.ff = cfg["moe_intermediate_size"]
        self.window = cfg["sliding_window"]
        self.idx_heads = cfg["index_n_heads"]
        self.idx_dim = cfg["index_head_dim"]
        self.idx_topk = cfg["index_topk"]
        self.n_hc = cfg["hc_mult"]
        self.sinkhorn_iters = cfg["hc_sinkhorn_iters"]
        self.hc_eps = cfg["hc_eps"]
        self.rms_eps = cfg["rms_norm_eps"]
        self.clamp = cfg["swiglu_limit"]
        self.expert_scale = cfg["routed_scaling_factor"]
        if cfg.get("scoring_func", "sqrtsoftplus") != "sqrtsoftplus" or not cfg.get("norm_topk_prob", True):
            raise ValueError("only sqrtsoftplus scoring with normalised top-k weights is modelled")

        # Per-layer compress ratio (0 = sliding only). Ratio 4 means CSA (overlap + indexer),
        # any other non-zero ratio HCA, exactly as a GGUF `compress_ratios` array is read.
        if cfg.get("layer_types"):
            rates = cfg.get("compress_rates") or {"compressed_sparse_attention": 4,
                                                   "heavily_compressed_attention": 128}
            rates = dict(rates, sliding_attention=0)
            self.ratios = [int(rates[t]) for t in cfg["layer_types"]]
            for t, r in zip(cfg["layer_types"], self.ratios):
                if (t == "compressed_sparse_attention") != (r == 4):
                    raise ValueError(f"layer type {t} with ratio {r}: ratio 4 must be exactly the CSA layers")
        else:
            self.ratios = [int(r) for r in cfg["compress_ratios"][: self.n_layer]]

        # Hash-routed layers must be a prefix of the stack (GGUF stores only their count).
        if cfg.get("mlp_layer_types"):
            kinds = cfg["mlp_layer_types"]
            self.n_hash = sum(1 for k in kinds if k == "hash_moe")
            if kinds[: self.n_hash] != ["hash_moe"] * self.n_hash:
                raise ValueError("hash_moe layers must come first")
        else:
            self.n_hash = cfg.get("num_hash_layers", 3)

        # RoPE: plain on ratio-0 layers, YaRN on compressed layers.
        rp = cfg.get("rope_parameters") or {}
        main, comp = rp.get("main", {}), rp.get("compress")
        if comp is None:  # official spelling
            comp = dict(cfg.get("rope_scaling") or {}, rope_theta=cfg.get("compress_rope_theta", 160000.0))
            comp.setdefault("rope_type", comp.get("type", "default"))
        self.rope_base = float(main.get("rope_theta", cfg.get("rope_theta", 10000.0)))
        self.compress_rope_base = float(comp["rope_theta"])
        self.yarn = comp.get("rope_type") == "yarn"
        if self.yarn:
            self.yarn_factor = float(comp["factor"])
            self.yarn_orig_ctx = int(comp["original_max_position_embeddings"])
            self.yarn_beta_fast = float(comp.get("beta_fast") or 32.0)
            self.yarn_beta_slow = float(comp.get("beta_slow") or 1.0)
            if float(comp.get("attention_factor", 1.0)) != 1.0:
                raise ValueError("YaRN magnitude scaling must be 1 (MODEL.md §C.3.3)")

    def summary(self):
        return {k: v for k, v in vars(self).items()}


def rope_freqs(hp, compressed):
    """Per-pair frequencies f_k, k = 0 .. rot/2-1 (MODEL.md §C.3.3)."""
    n = hp.rot
    k = np.arange(n // 2, dtype=F64)
    if not compressed:
        return hp.rope_base ** (-2.0 * k / n)
    base = hp.compress_rope_base
    f = base ** (-2.0 * k / n)
    if not hp.yarn:
        return f

    def corr(beta):
        return n * math.log(hp.yarn_orig_ctx / (2 * math.pi * beta)) / (2 * math.log(base))

    low = max(0, math.floor(corr(hp.yarn_beta_fast)))
    high = min(n - 1, math.ceil(corr(hp.yarn_beta_slow)))
    ramp = np.clip((k - low) / max(0.001, high - low), 0.0, 1.0)
    w = 1.0 - ramp
    return f * (w + (1.0 - w) / hp.yarn_factor)


class Model:
    def __init__(self, model_dir):
        with open(os.path.join(model_dir, "config.json")) as f:
            self.cfg = json.load(f)
        self.hp = Hparams(self.cfg)
        raw = {}
        for path in sorted(glob.glob(os.path.join(model_dir, "*.safetensors"))):
            raw.update(read_safetensors(path))
        if not raw:
            raise FileNotFoundError(f"no *.safetensors in {model_dir}")
        self.w = {k: (v.astype(F64) if v.dtype.kind == "f" else v.astype(np.int64)) for k, v in to_gguf(raw).items()}
        self.freqs = {False: rope_freqs(self.hp, False), True: rope_freqs(self.hp, True)}

    def t(self, layer, name):
        return self.w[f"blk.{layer}.{name}"]

    def has(self, layer, name):
        return f"blk.{layer}.{name}" in self.w


# ------------------------------------------------------------------------------------------------
# Building blocks (MODEL.md §0, §C.0)
# ------------------------------------------------------------------------------------------------

def rms_norm(x, eps, weight=None):
    y = x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps)
    return y * weight if weight is not None else y


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def silu(x):
    return x * sigmoid(x)


def softplus(x):
    return np.logaddexp(0.0, x)


def rope_tail(x, pos, freqs, inverse=False):
    """Rotate the last 2·len(freqs) dims of x (last axis) by interleaved pairs (2k, 2k+1)."""
    n = 2 * len(freqs)
    theta = pos * freqs
    c, s = np.cos(theta), np.sin(theta)
    if inverse:
        s = -s
    out = x.copy()
    a, b = x[..., -n::2], x[..., -n + 1::2]
    out[..., -n::2] = a * c - b * s
    out[..., -n + 1::2] = a * s + b * c
    return out


def compressed_row_position(pos, ratio):
    """RoPE position of the row emitted after token `pos`: the first token of the current m-token
    block (MODEL.md §C.3.5, §G.8); for ratio 4 NOT the start of the 8-token overlapping window."""
    return pos + 1 - ratio


def top_k_lowest_index(scores, k):
    """Indices of the k largest scores; on equal scores the lower index wins (stable sort)."""
    order = np.argsort(-scores, kind="stable")
    return order[:k]


# ------------------------------------------------------------------------------------------------
# Hyper-connections (MODEL.md §C.2)
# ------------------------------------------------------------------------------------------------

def hc_pre(hp, X, fn, scale, base):
    """Returns (sublayer input x_in, post weights [n_hc], comb matrix M[a][c])."""
    n = hp.n_hc
    f = X.reshape(-1)
    mix = fn @ (f / math.sqrt(np.mean(f * f) + hp.rms_eps))
    pre = sigmoid(mix[:n] * scale[0] + base[:n]) + hp.hc_eps
    post = 2.0 * sigmoid(mix[n:2 * n] * scale[1] + base[n:2 * n])
    Z = (mix[2 * n:] * scale[2] + base[2 * n:]).reshape(n, n)
    M = np.exp(Z - Z.max(axis=1, keepdims=True))
    M = M / M.sum(axis=1, keepdims=True) + hp.hc_eps          # row softmax, then +eps
    M = M / (M.sum(axis=0, keepdims=True) + hp.hc_eps)        # column normalisation
    for _ in range(hp.sinkhorn_iters - 1):
        M = M / (M.sum(axis=1, keepdims=True) + hp.hc_eps)    # rows
        M = M / (M.sum(axis=0, keepdims=True) + hp.hc_eps)    # columns
    return pre @ X, post, M


def hc_post(X, y, post, M):
    """X_new[c] = post[c]·y + Σ_a M[a][c]·X[a]."""
    return post[:, None] * y[None, :] + M.T @ X


# ------------------------------------------------------------------------------------------------
# Compressor (MODEL.md §C.3.5)
# ------------------------------------------------------------------------------------------------

class Compressor:
    """Streaming compressor of one layer: ratio 4 = overlapping two-series windows, else plain."""

    def __init__(self, ratio, width, wkv, wgate, ape, norm):
        self.m, self.D = ratio, width
        self.overlap = ratio == 4
        rows = 2 * ratio if self.overlap else ratio
        cols = 2 * width if self.overlap else width
        self.wkv, self.wgate, self.ape, self.norm = wkv, wgate, ape, norm
        self.kv = np.zeros((rows, cols), F64)
        self.sc = np.full((rows, cols), -np.inf)

    def step(self, a, pos):
        """Consume one token's attn-normed input; return the pooled (pre-norm) row or None."""
        u = self.wkv @ a
        g = self.wgate @ a + self.ape[pos % self.m]
        row = (self.m if self.overlap else 0) + pos % self.m
        self.kv[row], self.sc[row] = u, g
        if (pos + 1) % self.m:
            return None
        D = self.D
        if self.overlap:  # previous window's series A (first half) + this window's series B
            vals = np.concatenate([self.kv[:self.m, :D], self.kv[self.m:, D:]], axis=0)
            scs = np.concatenate([self.sc[:self.m, :D], self.sc[self.m:, D:]], axis=0)
        else:
            vals, scs = self.kv, self.sc
        wts = np.exp(scs - scs.max(axis=0, keepdims=True))
        pooled = (wts * vals).sum(axis=0) / wts.sum(axis=0)
        if self.overlap:
            self.kv[:self.m], self.sc[:self.m] = self.kv[self.m:], self.sc[self.m:]
        return pooled


# ------------------------------------------------------------------------------------------------
# One layer (MODEL.md §C.3, §C.4) and the whole model (§C.6)
# ------------------------------------------------------------------------------------------------

class LayerState:
    def __init__(self, model, layer):
        hp, t = model.hp, lambda n: model.t(layer, n)
        self.ratio = hp.ratios[layer]
        self.raw = []          # (pos, kv row) of the sliding window
        self.comp = []         # compressed attention rows
        self.idx_rows = []     # compressed indexer rows (ratio 4 only)
        self.comp_c = self.idx_c = None
        if self.ratio:
            self.comp_c = Compressor(self.ratio, hp.head_dim, t("attn_compressor_kv.weight"),
                                     t("attn_compressor_gate.weight"), t("attn_compressor_ape.weight"),
                                     t("attn_compressor_norm.weight"))
        if self.ratio == 4:
            self.idx_c = Compressor(4, hp.idx_dim, t("indexer_compressor_kv.weight"),
                                    t("indexer_compressor_gate.weight"), t("indexer_compressor_ape.weight"),
                                    t("indexer_compressor_norm.weight"))


def attention(model, layer, st, a, pos, stats):
    hp, t = model.hp, lambda n: model.t(layer, n)
    freqs = model.freqs[st.ratio != 0]
    hd = hp.head_dim

    # query path (§C.3.1)
    qr_n = rms_norm(t("attn_q_a.weight") @ a, hp.rms_eps, t("attn_q_a_norm.weight"))
    q = rms_norm((t("attn_q_b.weight") @ qr_n).reshape(hp.n_head, hd), hp.rms_eps)
    q = rope_tail(q, pos, freqs)

    # KV path (§C.3.2) and the raw window (§C.3.4): rows for positions pos-window+1 .. pos
    kv = rope_tail(rms_norm(t("attn_kv.weight") @ a, hp.rms_eps, t("attn_kv_a_norm.weight")), pos, freqs)
    st.raw.append(kv)
    st.raw = st.raw[-hp.window:]

    # compressors (§C.3.5): a row emitted at this step is visible to this query
    if st.ratio:
        c = st.comp_c.step(a, pos)
        if c is not None:
            c = rms_norm(c, hp.rms_eps, st.comp_c.norm)
            st.comp.append(rope_tail(c, compressed_row_position(pos, st.ratio), freqs))
    selected = list(range(len(st.comp)))
    if st.ratio == 4:
        c = st.idx_c.step(a, pos)
        if c is not None:
            c = rms_norm(c, hp.rms_eps, st.idx_c.norm)
            st.idx_rows.append(rope_tail(c, compressed_row_position(pos, 4), freqs))
        n_c = len(st.idx_rows)
        if n_c > hp.idx_topk:  # lightning indexer (§C.3.6)
            qi = (t("indexer.attn_q_b.weight") @ qr_n).reshape(hp.idx_heads, hp.idx_dim)
            qi = rope_tail(qi, pos, freqs)
            wi = (t("indexer.proj.weight") @ a) / math.sqrt(hp.idx_dim * hp.idx_heads)
            K = np.stack(st.idx_rows)                          # [n_c, idx_dim]
            score = (wi[:, None] * np.maximum(qi @ K.T, 0.0)).sum(axis=0)
            selected = sorted(top_k_lowest_index(score, hp.idx_topk).tolist())
            srt = np.sort(score)[::-1]
            stats["indexer_min_gap"] = min(stats.get("indexer_min_gap", np.inf), srt[hp.idx_topk - 1] - srt[hp.idx_topk])
    keys = np.stack(st.raw + [st.comp[i] for i in selected])  # K = V

    # attention with sinks (§C.3.7)
    s = (q @ keys.T) / math.sqrt(hd)                           # [heads, rows]
    sink = t("attn_sinks.weight")
    mx = np.maximum(s.max(axis=1), sink)
    e = np.exp(s - mx[:, None])
    den = e.sum(axis=1) + np.exp(sink - mx)
    o = (e @ keys) / den[:, None]                              # [heads, hd]

    # inverse RoPE with the query position, grouped low-rank output (§C.3.8)
    o = rope_tail(o, pos, freqs, inverse=True)
    per_group = hp.n_head // hp.o_groups
    wa = t("attn_output_a.weight")                             # [groups·o_lora, per_group·hd]
    low = np.concatenate([wa[g * hp.o_lora:(g + 1) * hp.o_lora] @ o[g * per_group:(g + 1) * per_group].reshape(-1)
                          for g in range(hp.o_groups)])
    return t("attn_output_b.weight") @ low


def swiglu(g, u, clamp):
    return silu(np.minimum(g, clamp)) * np.clip(u, -clamp, clamp)


def moe(model, layer, z, token, stats):
    hp, t = model.hp, lambda n: model.t(layer, n)
    p = np.sqrt(softplus(t("ffn_gate_inp.weight") @ z))       # sqrt-softplus router scores
    if layer < hp.n_hash:
        sel = t("ffn_gate_tid2eid.weight")[token]
    else:
        bias = t("exp_probs_b.bias") if model.has(layer, "exp_probs_b.bias") else 0.0
        biased = p + bias
        sel = top_k_lowest_index(biased, hp.n_used)
        srt = np.sort(biased)[::-1]
        if len(srt) > hp.n_used:
            stats["router_min_gap"] = min(stats.get("router_min_gap", np.inf), srt[hp.n_used - 1] - srt[hp.n_used])
    w = p[sel] / max(p[sel].sum(), ROUTER_DENOM_FLOOR) * hp.expert_scale
    gate, up, down = t("ffn_gate_exps.weight"), t("ffn_up_exps.weight"), t("ffn_down_exps.weight")
    out = np.zeros(hp.d)
    for e, wi in zip(sel, w):
        out += down[e] @ (swiglu(gate[e] @ z, up[e] @ z, hp.clamp) * wi)
    shared = t("ffn_down_shexp.weight") @ swiglu(t("ffn_gate_shexp.weight") @ z, t("ffn_up_shexp.weight") @ z, hp.clamp)
    return out + shared


class Session:
    """Decode state of one sequence; `step(token)` returns that position's logits."""

    def __init__(self, model):
        self.model = model
        self.layers = [LayerState(model, L) for L in range(model.hp.n_layer)]
        self.pos = 0
        self.stats = {}

    def step(self, token):
        m, hp, p = self.model, self.model.hp, self.pos
        X = np.repeat(m.w["token_embd.weight"][token][None, :], hp.n_hc, axis=0)
        for L, st in enumerate(self.layers):
            t = lambda n, L=L: m.t(L, n)  # noqa: E731
            x_in, post, M = hc_pre(hp, X, t("hc_attn_fn.weight"), t("hc_attn_scale.weight"), t("hc_attn_base.weight"))
            a = rms_norm(x_in, hp.rms_eps, t("attn_norm.weight"))
            X = hc_post(X, attention(m, L, st, a, p, self.stats), post, M)
            x_in, post, M = hc_pre(hp, X, t("hc_ffn_fn.weight"), t("hc_ffn_scale.weight"), t("hc_ffn_base.weight"))
            z = rms_norm(x_in, hp.rms_eps, t("ffn_norm.weight"))
            X = hc_post(X, moe(m, L, z, token, self.stats), post, M)
        # final HC collapse, norm, LM head (§C.5)
        f = X.reshape(-1)
        m4 = m.w["output_hc_fn.weight"] @ (f / math.sqrt(np.mean(f * f) + hp.rms_eps))
        wts = sigmoid(m4 * m.w["output_hc_scale.weight"][0] + m.w["output_hc_base.weight"]) + hp.hc_eps
        h = rms_norm(wts @ X, hp.rms_eps, m.w["output_norm.weight"])
        self.pos += 1
        return m.w["output.weight"] @ h


def run(model_dir, tokens):
    """Logits [len(tokens)][vocab] (float64) and selection statistics."""
    sess = Session(Model(model_dir))
    logits = np.stack([sess.step(int(tok)) for tok in tokens])
    return logits, sess.stats


def read_tokens(path):
    with open(path) as f:
        return [int(x) for x in f.read().replace("\n", ",").split(",") if x.strip()]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model_dir")
    ap.add_argument("--tokens", help="comma-separated ids (default MODEL_DIR/tokens.txt)")
    ap.add_argument("--out", help="write logits as little-endian float32 [n][vocab]")
    args = ap.parse_args()
    toks = read_tokens(args.tokens or os.path.join(args.model_dir, "tokens.txt"))
    logits, stats = run(args.model_dir, toks)
    if args.out:
        logits.astype("<f4").tofile(args.out)
    print(json.dumps(dict(n_tokens=len(toks), argmax_last=int(np.argmax(logits[-1])), **{k: float(v) for k, v in stats.items()})))


if __name__ == "__main__":
    main()
