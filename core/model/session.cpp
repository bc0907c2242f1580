// Session: evaluation of token chunks through cached plans, rewind, snapshots.
#include "model/session.h"

#include <algorithm>

#include "host/plugin_loader.h"
#include "host/status.h"
#include "model/model.h"
#include "model/session_impl.h"
#ifdef DS4_MODEL_HAS_DECOMPOSE
#include "decompose/decompose.h"
#endif

namespace ds4::model {
namespace {
std::string mib(uint64_t b) { return std::to_string((b + 1048575) / 1048576) + " MiB"; }
}  // namespace

ContextMemory Session::memory(const ModelConfig& cfg, const SessionOptions& opts) {
    return context_memory(cfg, opts.ctx, opts.prefill_chunk);
}

Session::Session(const Model& model, const SessionOptions& opts) : model_(model), opts_(opts) {
    const ModelConfig& cfg = model.config();
    if (opts.ctx == 0 || opts.ctx > (1ull << 31) - 1)
        throw Error("session: context " + std::to_string(opts.ctx) + " is outside 1..2^31-1");
    if (opts.prefill_chunk == 0) throw Error("session: prefill_chunk must be at least 1");
    opts_.prefill_chunk = static_cast<uint32_t>(std::min<uint64_t>(opts.prefill_chunk, opts.ctx));
    numerics_ = opts.custom_numerics ? opts.numerics_options : NumericsOptions::of(opts.numerics);
    if (numerics_.indexer_qat && cfg.idx_head_dim != 128) {
        bool has_indexer = false;
        for (uint32_t r : cfg.compress_ratios) has_indexer |= r == 4;
        if (has_indexer)
            throw Error("session: the official numerics simulate the indexer with a Hadamard-128, but this model's "
                        "indexer key_length is " + std::to_string(cfg.idx_head_dim) + "; use --numerics exact");
    }
    mem_ = memory(cfg, opts_);
    ds4_device_info info = model.device().info();
    if (info.memory_free && mem_.total() > info.memory_free)
        throw Error("session: " + mem_.describe() + " does not fit: the device has " + mib(info.memory_free) +
                        " free; use a smaller context",
                    DS4_ERR_OUT_OF_MEMORY);
    impl_ = std::make_unique<Impl>(cfg, model.weights(), model.device());
    impl_->allocate(opts_, mem_);
}

Session::~Session() = default;

uint64_t Session::scratch_bytes() const { return impl_->scratch_size; }

uint64_t Session::Impl::build(host::Graph& g, ds4_buffer* scratch_buf, uint32_t n, bool all_logits,
                              const NumericsOptions& num) const {
    detail::ChunkIo io{inputs.get(), chunk_cap, logits.get()};
    return detail::build_chunk(g, scratch_buf, cfg, num, weights.global(), weights.layers(), layers, raw_cap, io, n,
                               all_logits);
}

Session::Impl::Compiled& Session::Impl::compiled(uint32_t n, bool all_logits, const NumericsOptions& num,
                                                 bool lower_all) {
    auto key = std::make_pair(n, all_logits);
    auto it = plans.find(key);
    if (it != plans.end()) return it->second;
    if (plans.size() >= 16) plans.clear();  // unaligned resumes create odd sizes; keep the cache small

    uint32_t rows = all_logits ? n : 1;
    if (rows > logits_rows) {  // plans reference the buffer: a new one invalidates them
        plans.clear();
        logits_rows = all_logits ? chunk_cap : 1;
        logits = dev.alloc(uint64_t(logits_rows) * cfg.vocab * 4, DS4_BUFFER_SCRATCH);
    }
    {
        host::Graph measure;
        uint64_t need = build(measure, nullptr, n, all_logits, num);
        if (need > scratch_size) {
            plans.clear();
            scratch = host::Buffer();
            scratch = dev.alloc(need, DS4_BUFFER_SCRATCH);
            scratch_size = need;
        }
    }
    host::Graph g;
    build(g, scratch.get(), n, all_logits, num);

    // Tier-1 nodes the backend does not run are lowered to Tier-0 (core/decompose). Lowered
    // graphs bake positions and token ids in, so such chunks are rebuilt per step.
    bool lower = lower_all;
    for (size_t i = 0; i < g.size() && !lower; ++i) {
        const ds4_node& node = g.node(i);
        if (host::op_tier(node.op) == 1 && !dev.node_supported(node)) {
#ifdef DS4_MODEL_HAS_DECOMPOSE
            lower = true;
#else
            throw Error("backend '" + dev.plugin().name() + "' does not run tier-1 op '" + host::op_name(node.op) +
                            "' (node " + std::to_string(i) + ") and this build has no tier-0 decomposition",
                        DS4_ERR_UNSUPPORTED);
#endif
        }
    }
    if (lower) {
#ifndef DS4_MODEL_HAS_DECOMPOSE
        throw Error("session: lower_tier1 needs core/decompose, which this build does not have", DS4_ERR_UNSUPPORTED);
#endif
        Compiled cc;
        cc.per_step = true;
        return plans.emplace(key, std::move(cc)).first->second;
    }
    Compiled cc;
    if (g.scratch_bytes() > 0) {
        cc.graph_scratch = dev.alloc(g.scratch_bytes(), DS4_BUFFER_SCRATCH);
        g.bind_scratch(cc.graph_scratch.get());
    }
    cc.plan = dev.create_plan(g.c_graph());
    return plans.emplace(key, std::move(cc)).first->second;
}

void Session::eval_chunk(const int32_t* tokens, uint32_t n, bool all_logits, float* logits_out) {
    Impl& I = *impl_;
    Impl::Compiled& cc = I.compiled(n, all_logits, numerics_, opts_.lower_tier1);
    std::vector<int32_t> pos(n);
    for (uint32_t i = 0; i < n; ++i) pos[i] = static_cast<int32_t>(n_past_ + i);
    I.inputs.write(0, tokens, uint64_t(n) * 4);
    I.inputs.write(uint64_t(I.chunk_cap) * 4, pos.data(), uint64_t(n) * 4);
    if (cc.per_step)
        eval_chunk_lowered(tokens, pos.data(), n, all_logits);
    else
        cc.plan.submit();
    I.dev.synchronize();
    uint32_t rows = all_logits ? n : 1;
    I.logits.read(0, logits_out, uint64_t(rows) * I.cfg.vocab * 4);
}

void Session::eval_chunk_lowered(const int32_t* tokens, const int32_t* positions, uint32_t n, bool all_logits) {
#ifdef DS4_MODEL_HAS_DECOMPOSE
    Impl& I = *impl_;
    host::Graph g;
    I.build(g, I.scratch.get(), n, all_logits, numerics_);
    // Host values of the small I32 inputs, identified by their place in the input buffer.
    decompose::StepValues values;
    values.read_i32 = [&](const ds4_tensor& t) -> std::vector<int32_t> {
        uint64_t count = uint64_t(t.ne[0]) * t.ne[1] * t.ne[2] * t.ne[3];
        if (t.buffer == I.inputs.get()) {
            if (t.offset == 0 && count <= n) return std::vector<int32_t>(tokens, tokens + count);
            if (t.offset == uint64_t(I.chunk_cap) * 4 && count <= n) return std::vector<int32_t>(positions, positions + count);
            if (t.offset == uint64_t(I.chunk_cap) * 8) {
                std::vector<int32_t> v(count);
                for (uint64_t i = 0; i < count; ++i) v[i] = static_cast<int32_t>(i % I.cfg.o_groups);
                return v;
            }
        }
        throw Error("session: a lowered op needs the host values of a tensor that is not a step input");
    };
    const bool all = opts_.lower_tier1;
    decompose::lower_unclaimed(g, [&](const ds4_node& node) { return !all && I.dev.node_supported(node); }, values);
    if (g.scratch_bytes() > I.step_scratch_size) {
        I.step_scratch = host::Buffer();
        I.step_scratch = I.dev.alloc(g.scratch_bytes(), DS4_BUFFER_SCRATCH);
        I.step_scratch_size = g.scratch_bytes();
    }
    if (g.scratch_bytes() > 0) {
        g.bind_scratch(I.step_scratch.get());
        g.upload_constants([&](uint64_t off, const void* data, uint64_t size) { I.step_scratch.write(off, data, size); });
    }
    host::Plan plan = I.dev.create_plan(g.c_graph());
    plan.submit();
#else
    (void)tokens, (void)positions, (void)n, (void)all_logits;
    throw Error("session: tier-1 lowering is not available in this build", DS4_ERR_UNSUPPORTED);
#endif
}

void Session::maybe_checkpoint() {
    Impl& I = *impl_;
    if (opts_.max_checkpoints == 0 || n_past_ == 0) return;
    if (!I.checkpoints.empty() && n_past_ - I.checkpoints.back().pos < opts_.checkpoint_stride) return;
    Impl::Checkpoint ck;
    ck.pos = n_past_;
    ck.state = I.save_state(n_past_, /*rows=*/false);
    ck.logits = last_logits_;
    I.checkpoints.push_back(std::move(ck));
    while (I.checkpoints.size() > opts_.max_checkpoints) I.checkpoints.pop_front();
}

std::vector<float> Session::eval(const std::vector<int32_t>& tokens, bool all_logits, const EvalProgress& progress) {
    const ModelConfig& cfg = model_.config();
    const uint64_t n = tokens.size();
    if (n == 0) return all_logits ? std::vector<float>{} : last_logits_;
    if (n_past_ + n > opts_.ctx)
        throw Error("context full: " + std::to_string(n_past_) + " tokens + " + std::to_string(n) + " new > context " +
                    std::to_string(opts_.ctx));
    for (uint64_t i = 0; i < n; ++i)
        if (tokens[i] < 0 || static_cast<uint32_t>(tokens[i]) >= cfg.vocab)
            throw Error("token id " + std::to_string(tokens[i]) + " at index " + std::to_string(i) +
                        " is outside the vocabulary (0.." + std::to_string(cfg.vocab - 1) + ")");
    maybe_checkpoint();

    const uint64_t start = n_past_;
    std::vector<float> out(all_logits ? n * cfg.vocab : cfg.vocab);
    try {
        uint64_t i = 0;
        const uint64_t chunk = opts_.prefill_chunk;
        while (i < n) {
            // Chunks end on absolute multiples of the chunk size, so a resumed prefill runs
            // the same graphs over the same positions as a cold one.
            uint64_t p = n_past_;
            uint64_t len = std::min(n - i, (p / chunk + 1) * chunk - p);
            float* dst = all_logits ? out.data() + i * cfg.vocab : out.data();
            eval_chunk(tokens.data() + i, static_cast<uint32_t>(len), all_logits, dst);
            history_.insert(history_.end(), tokens.begin() + i, tokens.begin() + i + len);
            n_past_ += len;
            i += len;
            if (progress) progress(i, n);
        }
    } catch (...) {
        // Leave the session where it was before this call: the frontier may be half updated.
        try {
            rewind(start);
        } catch (...) {
        }
        throw;
    }
    if (all_logits)
        last_logits_.assign(out.end() - cfg.vocab, out.end());
    else
        last_logits_ = out;
    return out;
}

void Session::rewind(uint64_t k) {
    Impl& I = *impl_;
    if (k > n_past_)
        throw Error("rewind to " + std::to_string(k) + " past the end of the session (" + std::to_string(n_past_) +
                    " tokens)");
    if (k == n_past_) return;
    while (!I.checkpoints.empty() && I.checkpoints.back().pos > k) I.checkpoints.pop_back();
    std::vector<int32_t> replay(history_.begin(), history_.begin() + static_cast<int64_t>(k));
    if (!I.checkpoints.empty()) {
        // Raw window and frontier of the checkpoint; compressed rows below it never changed.
        const Impl::Checkpoint& ck = I.checkpoints.back();
        I.load_state(ck.state, ck.pos, false);
        n_past_ = ck.pos;
        last_logits_ = ck.logits;
    } else {
        I.reset_frontier();
        n_past_ = 0;
        last_logits_.clear();
    }
    history_.resize(n_past_);
    if (k > n_past_) eval(std::vector<int32_t>(replay.begin() + static_cast<int64_t>(n_past_), replay.end()));
}

SessionSnapshot Session::snapshot() const {
    SessionSnapshot s;
    s.n_past = n_past_;
    s.tokens = history_;
    s.last_logits = last_logits_;
    s.state = impl_->save_state(n_past_, /*rows=*/true);
    return s;
}

void Session::restore(const SessionSnapshot& s) {
    const ModelConfig& cfg = model_.config();
    if (s.n_past > opts_.ctx)
        throw Error("snapshot of " + std::to_string(s.n_past) + " tokens does not fit the context " +
                    std::to_string(opts_.ctx));
    if (s.tokens.size() != s.n_past) throw Error("snapshot: token history does not match n_past");
    if (!s.last_logits.empty() && s.last_logits.size() != cfg.vocab)
        throw Error("snapshot: last logits have " + std::to_string(s.last_logits.size()) + " values, vocab is " +
                    std::to_string(cfg.vocab));
    impl_->load_state(s.state, s.n_past, /*rows=*/true);
    impl_->checkpoints.clear();
    n_past_ = s.n_past;
    history_ = s.tokens;
    last_logits_ = s.last_logits;
}

}  // namespace ds4::model
