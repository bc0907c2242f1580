// Session state on the device: allocation and layout, frontier reset, and the byte format
// shared by snapshots and rewind checkpoints.
#include <cmath>
#include <cstring>

#include "host/status.h"
#include "model/session_impl.h"

namespace ds4::model {
namespace {

constexpr uint64_t kAlign = 256;
uint64_t align_up(uint64_t v) { return (v + kAlign - 1) / kAlign * kAlign; }

ds4_tensor f32_tensor(int64_t ne0, int64_t ne1, uint64_t offset) {
    ds4_tensor t{};
    t.struct_size = sizeof(t);
    t.type = DS4_TYPE_F32;
    t.ne[0] = ne0;
    t.ne[1] = ne1;
    t.ne[2] = t.ne[3] = 1;
    t.nb[0] = 4;
    t.nb[1] = ne0 * 4;
    t.nb[2] = t.nb[3] = t.nb[1] * ne1;
    t.offset = offset;
    return t;
}

uint64_t bytes_of(const ds4_tensor& t) { return static_cast<uint64_t>(t.nb[1]) * t.ne[1]; }

std::string mib(uint64_t b) { return std::to_string((b + 1048575) / 1048576) + " MiB"; }

}  // namespace

uint64_t detail::layout_state(const ModelConfig& cfg, uint64_t ctx, uint32_t raw_cap,
                              std::vector<detail::LayerState>& layers) {
    layers.assign(cfg.n_layer, detail::LayerState{});
    uint64_t off = 0;
    auto place = [&](int64_t ne0, int64_t ne1) {
        ds4_tensor t = f32_tensor(ne0, ne1, off);
        off = align_up(off + bytes_of(t));
        return t;
    };
    for (uint32_t il = 0; il < cfg.n_layer; ++il) {
        detail::LayerState& L = layers[il];
        L.ring = place(cfg.head_dim, raw_cap);
        uint32_t r = cfg.ratio(il);
        if (r == 0) continue;
        int64_t cap = std::max<uint64_t>(1, comp_rows_for(ctx, r));
        int64_t coff = cfg.coff(il);
        L.has_comp = true;
        L.comp = place(cfg.head_dim, cap);
        L.comp_kv = place(coff * cfg.head_dim, coff * r);
        L.comp_sc = place(coff * cfg.head_dim, coff * r);
        if (cfg.kind(il) == AttnKind::CSA) {
            L.has_idx = true;
            L.idx = place(cfg.idx_head_dim, cap);
            L.idx_kv = place(coff * cfg.idx_head_dim, coff * r);
            L.idx_sc = place(coff * cfg.idx_head_dim, coff * r);
        }
    }
    return off;
}

void Session::Impl::allocate(const SessionOptions& opts, const ContextMemory& mem) {
    raw_cap = mem.raw_cap;
    chunk_cap = raw_cap - cfg.window + 1;
    uint64_t off = detail::layout_state(cfg, opts.ctx, raw_cap, layers);
    try {
        state = dev.alloc(off, DS4_BUFFER_STATE);
    } catch (const Error& e) {
        throw Error("session: cannot allocate " + mib(off) + " of state for " + mem.describe() + ": " + e.what(),
                    DS4_ERR_OUT_OF_MEMORY);
    }
    for (auto& L : layers)
        for (ds4_tensor* t : {&L.ring, &L.comp, &L.comp_kv, &L.comp_sc, &L.idx, &L.idx_kv, &L.idx_sc})
            t->buffer = state.get();

    // Inputs: tokens, positions, and the constant group ids of the grouped output projection.
    uint64_t in_bytes = uint64_t(chunk_cap) * 4 * (2 + cfg.o_groups);
    inputs = dev.alloc(in_bytes, DS4_BUFFER_SCRATCH);
    std::vector<int32_t> gids(uint64_t(chunk_cap) * cfg.o_groups);
    for (uint64_t i = 0; i < gids.size(); ++i) gids[i] = static_cast<int32_t>(i % cfg.o_groups);
    inputs.write(uint64_t(chunk_cap) * 8, gids.data(), gids.size() * 4);
    reset_frontier();
}

void Session::Impl::reset_frontier() {
    // Compressor state starts (and restarts) at kv = 0, score = −∞ (MODEL.md §D.1).
    for (auto& L : layers) {
        for (auto [kv, sc] : {std::pair{&L.comp_kv, &L.comp_sc}, std::pair{&L.idx_kv, &L.idx_sc}}) {
            if (kv->ne[0] == 0 || kv->buffer == nullptr) continue;
            uint64_t n = bytes_of(*kv) / 4;
            std::vector<float> zeros(n, 0.0f), ninf(n, -INFINITY);
            state.write(kv->offset, zeros.data(), n * 4);
            state.write(sc->offset, ninf.data(), n * 4);
        }
    }
}

uint64_t Session::Impl::state_size(uint64_t n_past, bool rows) const {
    uint64_t total = 0;
    uint64_t raw_rows = std::min<uint64_t>(n_past, cfg.window);
    for (uint32_t il = 0; il < cfg.n_layer; ++il) {
        const detail::LayerState& L = layers[il];
        total += raw_rows * cfg.head_dim * 4;
        if (L.has_comp) {
            if (rows) total += comp_rows_for(n_past, cfg.ratio(il)) * cfg.head_dim * 4;
            total += 2 * bytes_of(L.comp_kv);
        }
        if (L.has_idx) {
            if (rows) total += comp_rows_for(n_past, cfg.ratio(il)) * cfg.idx_head_dim * 4;
            total += 2 * bytes_of(L.idx_kv);
        }
    }
    return total;
}

namespace {

// Visits the live regions of the state buffer in the documented order: fn(offset, bytes).
template <class Fn>
void for_each_region(const std::vector<detail::LayerState>& layers, const ModelConfig& cfg, uint32_t raw_cap,
                     uint64_t n_past, bool rows, Fn&& fn) {
    uint64_t first = n_past > cfg.window ? n_past - cfg.window : 0;
    for (uint32_t il = 0; il < cfg.n_layer; ++il) {
        const detail::LayerState& L = layers[il];
        // Raw rows in logical position order; the ring may wrap once.
        uint64_t p = first;
        while (p < n_past) {
            uint64_t slot = p % raw_cap;
            uint64_t run = std::min<uint64_t>(n_past - p, raw_cap - slot);
            fn(L.ring.offset + slot * L.ring.nb[1], run * L.ring.nb[1]);
            p += run;
        }
        if (L.has_comp) {
            if (rows) fn(L.comp.offset, comp_rows_for(n_past, cfg.ratio(il)) * L.comp.nb[1]);
            fn(L.comp_kv.offset, bytes_of(L.comp_kv));
            fn(L.comp_sc.offset, bytes_of(L.comp_sc));
        }
        if (L.has_idx) {
            if (rows) fn(L.idx.offset, comp_rows_for(n_past, cfg.ratio(il)) * L.idx.nb[1]);
            fn(L.idx_kv.offset, bytes_of(L.idx_kv));
            fn(L.idx_sc.offset, bytes_of(L.idx_sc));
        }
    }
}

}  // namespace

std::vector<uint8_t> Session::Impl::save_state(uint64_t n_past, bool rows) const {
    std::vector<uint8_t> out(state_size(n_past, rows));
    uint64_t pos = 0;
    for_each_region(layers, cfg, raw_cap, n_past, rows, [&](uint64_t off, uint64_t n) {
        if (n) state.read(off, out.data() + pos, n);
        pos += n;
    });
    return out;
}

void Session::Impl::load_state(const std::vector<uint8_t>& bytes, uint64_t n_past, bool rows) {
    if (bytes.size() != state_size(n_past, rows))
        throw Error("session: state of " + std::to_string(bytes.size()) + " bytes does not match this model (" +
                    std::to_string(state_size(n_past, rows)) + " bytes expected at n_past " + std::to_string(n_past) +
                    ")");
    uint64_t pos = 0;
    for_each_region(layers, cfg, raw_cap, n_past, rows, [&](uint64_t off, uint64_t n) {
        if (n) state.write(off, bytes.data() + pos, n);
        pos += n;
    });
}

}  // namespace ds4::model
