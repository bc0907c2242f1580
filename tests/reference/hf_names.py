"""HF DeepSeek V4 tensor names -> the GGUF names of MODEL.md §B, for the reference scripts.

Three spellings of the same checkpoint exist:
  official   `layers.3.attn.wq_a.weight`, `embed.weight`, `hc_head_fn`, experts split per expert
             (`layers.3.ffn.experts.7.w1.weight`), as in deepseek-ai/DeepSeek-V4-Flash;
  saved      what transformers 5.17 `save_pretrained` writes: the official spelling behind a
             `model.` prefix (`model.layers.3.attn.wq_a.weight`, `model.embed_tokens.weight`,
             `model.hc_head.hc_fn`, `model.norm.weight`) but `head.weight` without it; experts split;
  in-memory  transformers module names (`model.layers.3.self_attn.q_a_proj.weight`,
             `model.layers.3.mlp.experts.gate_up_proj` [E, 2·I, H] = gate rows then up rows).
`gguf_name()` accepts all three. Expert tensors come back stacked ([E][OUT][IN] row-major).
"""
import re

# (regex on the name with any `model.` prefix removed, GGUF name template) — first match wins.
_GLOBAL = [
    (r"(embed|embed_tokens)\.weight", "token_embd.weight"),
    (r"(head|lm_head)\.weight", "output.weight"),
    (r"norm\.weight", "output_norm.weight"),
    (r"(hc_head_fn|hc_head\.hc_fn)", "output_hc_fn.weight"),
    (r"(hc_head_base|hc_head\.hc_base)", "output_hc_base.weight"),
    (r"(hc_head_scale|hc_head\.hc_scale)", "output_hc_scale.weight"),
]

# Per-layer rules: the regex is matched against the part after `layers.N.`.
_LAYER = [
    (r"(hc_attn_fn|attn_hc\.fn)", "hc_attn_fn.weight"),
    (r"(hc_attn_scale|attn_hc\.scale)", "hc_attn_scale.weight"),
    (r"(hc_attn_base|attn_hc\.base)", "hc_attn_base.weight"),
    (r"(hc_ffn_fn|ffn_hc\.fn)", "hc_ffn_fn.weight"),
    (r"(hc_ffn_scale|ffn_hc\.scale)", "hc_ffn_scale.weight"),
    (r"(hc_ffn_base|ffn_hc\.base)", "hc_ffn_base.weight"),
    (r"(attn_norm|input_layernorm)\.weight", "attn_norm.weight"),
    (r"(ffn_norm|post_attention_layernorm)\.weight", "ffn_norm.weight"),
    # indexer (before the attention compressor: the names nest)
    (r"(attn\.indexer\.compressor\.ape|self_attn\.compressor\.indexer\.position_bias)", "indexer_compressor_ape.weight"),
    (r"(attn\.indexer\.compressor\.wkv|self_attn\.compressor\.indexer\.kv_proj)\.weight", "indexer_compressor_kv.weight"),
    (r"(attn\.indexer\.compressor\.wgate|self_attn\.compressor\.indexer\.gate_proj)\.weight", "indexer_compressor_gate.weight"),
    (r"(attn\.indexer\.compressor\.norm|self_attn\.compressor\.indexer\.kv_norm)\.weight", "indexer_compressor_norm.weight"),
    (r"(attn\.indexer\.wq_b|self_attn\.compressor\.indexer\.q_b_proj)\.weight", "indexer.attn_q_b.weight"),
    (r"(attn\.indexer\.weights_proj|self_attn\.compressor\.indexer\.scorer\.weights_proj)\.weight", "indexer.proj.weight"),
    # attention compressor
    (r"(attn|self_attn)\.compressor\.(ape|position_bias)", "attn_compressor_ape.weight"),
    (r"(attn|self_attn)\.compressor\.(wkv|kv_proj)\.weight", "attn_compressor_kv.weight"),
    (r"(attn|self_attn)\.compressor\.(wgate|gate_proj)\.weight", "attn_compressor_gate.weight"),
    (r"(attn|self_attn)\.compressor\.(norm|kv_norm)\.weight", "attn_compressor_norm.weight"),
    # attention
    (r"(attn\.wq_a|self_attn\.q_a_proj)\.weight", "attn_q_a.weight"),
    (r"(attn\.q_norm|self_attn\.q_a_norm)\.weight", "attn_q_a_norm.weight"),
    (r"(attn\.wq_b|self_attn\.q_b_proj)\.weight", "attn_q_b.weight"),
    (r"(attn\.wkv|self_attn\.kv_proj)\.weight", "attn_kv.weight"),
    (r"(attn\.norm|attn\.kv_norm|self_attn\.kv_norm)\.weight", "attn_kv_a_norm.weight"),
    (r"(attn\.attn_sink|self_attn\.sinks)", "attn_sinks.weight"),
    (r"(attn\.wo_a|self_attn\.o_a_proj)\.weight", "attn_output_a.weight"),
    (r"(attn\.wo_b|self_attn\.o_b_proj)\.weight", "attn_output_b.weight"),
    # MoE
    (r"(ffn|mlp)\.gate\.weight", "ffn_gate_inp.weight"),
    (r"(ffn\.gate\.bias|mlp\.gate\.e_score_correction_bias)", "exp_probs_b.bias"),
    (r"(ffn|mlp)\.gate\.tid2eid", "ffn_gate_tid2eid.weight"),
    (r"(ffn\.shared_experts\.w1|mlp\.shared_experts\.gate_proj)\.weight", "ffn_gate_shexp.weight"),
    (r"(ffn\.shared_experts\.w3|mlp\.shared_experts\.up_proj)\.weight", "ffn_up_shexp.weight"),
    (r"(ffn\.shared_experts\.w2|mlp\.shared_experts\.down_proj)\.weight", "ffn_down_shexp.weight"),
    (r"mlp\.experts\.gate_up_proj", "ffn_gate_up_exps"),  # split below
    (r"mlp\.experts\.down_proj", "ffn_down_exps.weight"),
]

_EXPERT = re.compile(r"ffn\.experts\.(\d+)\.(w1|w2|w3)\.weight")
_EXPERT_GGUF = {"w1": "ffn_gate_exps.weight", "w3": "ffn_up_exps.weight", "w2": "ffn_down_exps.weight"}
_LAYER_PREFIX = re.compile(r"layers\.(\d+)\.(.*)")


def gguf_name(hf_name):
    """(gguf name, expert index or None) for one HF tensor name; raises KeyError if unknown."""
    name = hf_name[len("model."):] if hf_name.startswith("model.") else hf_name
    m = _LAYER_PREFIX.fullmatch(name)
    if not m:
        for pat, out in _GLOBAL:
            if re.fullmatch(pat, name):
                return out, None
        raise KeyError(f"unknown global tensor name {hf_name!r}")
    layer, rest = int(m.group(1)), m.group(2)
    e = _EXPERT.fullmatch(rest)
    if e:
        return f"blk.{layer}.{_EXPERT_GGUF[e.group(2)]}", int(e.group(1))
    for pat, out in _LAYER:
        if re.fullmatch(pat, rest):
            return f"blk.{layer}.{out}", None
    raise KeyError(f"unknown layer tensor name {hf_name!r}")


def to_gguf(tensors):
    """{hf name: array} -> {gguf name: array}; stacks split experts, splits gate_up_proj."""
    import numpy as np

    out, experts = {}, {}
    for hf, arr in tensors.items():
        name, expert = gguf_name(hf)
        if expert is not None:
            experts.setdefault(name, {})[expert] = arr
        elif name.endswith("ffn_gate_up_exps"):
            half = arr.shape[1] // 2  # [E, 2I, H]: gate rows first (transformers chunk(2) order)
            base = name[: -len("ffn_gate_up_exps")]
            out[base + "ffn_gate_exps.weight"] = arr[:, :half]
            out[base + "ffn_up_exps.weight"] = arr[:, half:]
        else:
            if name in out:
                raise ValueError(f"two HF tensors map to {name}")
            out[name] = arr
    for name, per in experts.items():
        n = max(per) + 1
        if sorted(per) != list(range(n)):
            raise ValueError(f"{name}: expert indices are not 0..{n - 1}")
        out[name] = np.stack([per[i] for i in range(n)])
    return out
