// INDEXER_TOPK and ATTENTION: fused vs decomposed, selection order/padding/ties, and the
// visibility rules of the raw window and the compressed rows.
#include <algorithm>
#include <limits>
#include <set>

#include "rig.h"

namespace ds4::test {
namespace {

// ---- INDEXER_TOPK -----------------------------------------------------------------------------

enum { kQr, kA, kWq, kWproj, kKrows, kPos, kSel };

struct IndexerCase {
    int64_t H = 4, hd = 128, q_rank = 32, d = 64, top_k = 8, ratio = 4, cap = 64;
    Numerics numerics = Numerics::Exact;
    ds4_type wtype = DS4_TYPE_F16;
    std::vector<int32_t> pos;
    ds4_params_indexer params() const {
        ds4_params_indexer p{};
        p.n_heads = static_cast<uint32_t>(H);
        p.head_dim = static_cast<uint32_t>(hd);
        p.top_k = static_cast<uint32_t>(top_k);
        p.ratio = static_cast<uint32_t>(ratio);
        p.qat = numerics == Numerics::Official ? 1 : 0;
        p.act_quant = numerics == Numerics::Official ? DS4_ACT_DS4 : DS4_ACT_F32;
        p.weight_scale = 1.0f / std::sqrt(float(hd * H));
        p.rope = rope_params(64, true);
        return p;
    }
};

std::vector<Spec> indexer_specs(const IndexerCase& c, uint32_t seed, const std::vector<float>* rows = nullptr) {
    std::mt19937 rng(seed);
    const int64_t n = static_cast<int64_t>(c.pos.size());
    std::vector<Spec> s;
    s.push_back(f32_spec({c.q_rank, n}, randn(c.q_rank * n, rng)));
    s.push_back(f32_spec({c.d, n}, randn(c.d * n, rng)));
    s.push_back(weight_spec(c.wtype, {c.q_rank, c.H * c.hd}, rng, 1.0f / std::sqrt(float(c.q_rank))));
    s.push_back(weight_spec(c.wtype, {c.d, c.H}, rng, 1.0f / std::sqrt(float(c.d))));
    s.push_back(f32_spec({c.hd, c.cap}, rows ? *rows : randn(c.hd * c.cap, rng, 0.3f)));
    s.push_back(i32_spec({n}, c.pos));
    s.push_back(i32_spec({c.top_k, n}, std::vector<int32_t>(c.top_k * n, -7)));
    return s;
}

// Every token's selection: ascending, distinct, visible, min(n_c, top_k) entries, -1 padded;
// all visible rows when n_c <= top_k.
void check_selection_shape(const IndexerCase& c, const std::vector<int32_t>& sel) {
    for (size_t t = 0; t < c.pos.size(); ++t) {
        const int64_t n_c = (c.pos[t] + 1) / c.ratio, want = std::min(n_c, c.top_k);
        for (int64_t j = 0; j < c.top_k; ++j) {
            const int32_t v = sel[t * c.top_k + j];
            if (j < want) {
                EXPECT_GE(v, 0) << "token " << t << " slot " << j;
                EXPECT_LT(v, n_c) << "token " << t << " selects an invisible row";
                if (j > 0) {
                    EXPECT_GT(v, sel[t * c.top_k + j - 1]) << "token " << t << " not ascending";
                }
                if (n_c <= c.top_k) {
                    EXPECT_EQ(v, j) << "token " << t << " must select every visible row";
                }
            } else {
                EXPECT_EQ(v, -1) << "token " << t << " slot " << j << " should be padding";
            }
        }
    }
}

void check_indexer(const IndexerCase& c, uint32_t seed) {
    SCOPED_TRACE(std::string("indexer ") + numerics_name(c.numerics) + " first pos " + std::to_string(c.pos[0]) +
                 " n " + std::to_string(c.pos.size()));
    Pair p(indexer_specs(c, seed));
    p.run(DS4_OP_INDEXER_TOPK, c.params(), {kQr, kA, kWq, kWproj, kKrows, kPos}, {kSel});
    expect_equal_i32(p, kSel, "selected");
    check_selection_shape(c, p.fused.read_i32(kSel));
}

std::vector<int32_t> range(int32_t from, int32_t n) {
    std::vector<int32_t> v(n);
    for (int32_t i = 0; i < n; ++i) v[i] = from + i;
    return v;
}

TEST(IndexerTopk, SmallShapesMatchDecomposition) {
    for (Numerics nm : {Numerics::Exact, Numerics::Official}) {
        IndexerCase c;
        c.numerics = nm;
        for (auto pos : {range(0, 1), range(28, 5), range(30, 13), range(200, 13), range(251, 5)}) {
            c.pos = pos;
            check_indexer(c, 100 + pos[0]);
        }
        c.wtype = DS4_TYPE_Q8_0;
        c.pos = range(120, 5);
        check_indexer(c, 7);
    }
}

// Equal scores (identical rows): ties go to the lowest index.
TEST(IndexerTopk, TiesPickLowestIndex) {
    IndexerCase c;
    c.pos = range(99, 3);  // n_c = 25, 25, 25
    std::vector<float> rows(c.hd * c.cap);
    std::mt19937 rng(5);
    std::vector<float> u = randn(c.hd, rng);
    for (int64_t r = 0; r < c.cap; ++r) std::copy(u.begin(), u.end(), rows.begin() + r * c.hd);
    Pair p(indexer_specs(c, 9, &rows));
    p.run(DS4_OP_INDEXER_TOPK, c.params(), {kQr, kA, kWq, kWproj, kKrows, kPos}, {kSel});
    for (Rig* r : {&p.fused, &p.decomp}) {
        const auto sel = r->read_i32(kSel);
        for (size_t t = 0; t < c.pos.size(); ++t)
            for (int64_t j = 0; j < c.top_k; ++j) EXPECT_EQ(sel[t * c.top_k + j], j);
    }
}

TEST(IndexerTopk, RealShape) {
    IndexerCase c;
    c.H = 64;
    c.hd = 128;
    c.q_rank = 1024;
    c.d = 4096;
    c.top_k = 512;
    c.cap = 600;
    c.numerics = Numerics::Official;
    c.pos = range(2097, 5);  // n_c = 524 .. 525 > 512
    check_indexer(c, 3);
}

// ---- ATTENTION --------------------------------------------------------------------------------

enum { kQ, kRaw, kComp, kSelA, kSinks, kPosA, kOut };

struct AttentionCase {
    int64_t hd = 32, H = 4, window = 8, raw_cap = 24, ratio = 4, cap = 16, k = 4;
    bool with_comp = true, with_sel = false;
    std::vector<int32_t> pos;
    ds4_params_attention params() const {
        ds4_params_attention p{};
        p.window = static_cast<uint32_t>(window);
        p.raw_cap = static_cast<uint32_t>(raw_cap);
        p.ratio = with_comp ? static_cast<uint32_t>(ratio) : 0;
        p.scale = 1.0f / std::sqrt(float(hd));
        return p;
    }
    std::vector<int> srcs() const { return {kQ, kRaw, with_comp ? kComp : -1, with_sel ? kSelA : -1, kSinks, kPosA}; }
};

// A valid selection per token: a random ascending subset of the visible rows, -1 padded.
std::vector<int32_t> random_selection(const AttentionCase& c, std::mt19937& rng) {
    std::vector<int32_t> sel;
    for (int32_t p : c.pos) {
        const int64_t n_c = (p + 1) / c.ratio;
        std::vector<int32_t> all(n_c);
        for (int64_t i = 0; i < n_c; ++i) all[i] = static_cast<int32_t>(i);
        std::shuffle(all.begin(), all.end(), rng);
        const int64_t take = std::min<int64_t>(n_c, std::max<int64_t>(0, c.k - static_cast<int64_t>(rng() % 2)));
        std::vector<int32_t> s(all.begin(), all.begin() + take);
        std::sort(s.begin(), s.end());
        s.resize(c.k, -1);
        sel.insert(sel.end(), s.begin(), s.end());
    }
    return sel;
}

std::vector<Spec> attention_specs(const AttentionCase& c, uint32_t seed) {
    std::mt19937 rng(seed);
    const int64_t n = static_cast<int64_t>(c.pos.size());
    std::vector<Spec> s;
    s.push_back(f32_spec({c.hd, c.H, n}, randn(c.hd * c.H * n, rng)));
    s.push_back(f32_spec({c.hd, c.raw_cap}, randn(c.hd * c.raw_cap, rng)));
    s.push_back(f32_spec({c.hd, c.cap}, randn(c.hd * c.cap, rng)));
    s.push_back(i32_spec({c.k, n}, random_selection(c, rng)));
    s.push_back(f32_spec({c.H}, randn(c.H, rng)));
    s.push_back(i32_spec({n}, c.pos));
    s.push_back(f32_spec({c.hd, c.H, n}, std::vector<float>(c.hd * c.H * n)));
    return s;
}

void check_attention(const AttentionCase& c, uint32_t seed) {
    SCOPED_TRACE("attention comp=" + std::to_string(c.with_comp) + " sel=" + std::to_string(c.with_sel) + " ratio=" +
                 std::to_string(c.ratio) + " first pos " + std::to_string(c.pos[0]) + " n " + std::to_string(c.pos.size()));
    Pair p(attention_specs(c, seed));
    p.run(DS4_OP_ATTENTION, c.params(), c.srcs(), {kOut});
    expect_close_rigs(p, kOut, "o");
}

TEST(Attention, SmallShapesMatchDecomposition) {
    for (auto pos : {range(3, 1), range(17, 5), range(40, 13), range(0, 13)}) {
        AttentionCase c;
        c.pos = pos;
        c.with_comp = false;
        check_attention(c, 1);  // raw window only (ratio-0 layer)
        c.with_comp = true;
        check_attention(c, 2);  // every visible compressed row
        c.with_sel = true;
        check_attention(c, 3);  // indexer selection
        c.with_sel = false;
        c.ratio = 8;
        check_attention(c, 4);
    }
}

TEST(Attention, RealShape) {
    AttentionCase c;
    c.hd = 512;
    c.H = 64;
    c.window = 128;
    c.raw_cap = 256;
    c.cap = 600;
    c.k = 512;
    c.with_sel = true;
    c.pos = range(2097, 5);
    check_attention(c, 9);
}

// Visibility: with q = 0 every visible row has weight 1/count (no sink: -inf), and rows are
// one-hot (raw ring row r → dim r, compressed row c → dim raw_cap + c), so o[dim] > 0 exactly
// for the visible rows.
TEST(Attention, Visibility) {
    for (bool with_sel : {false, true}) {
        AttentionCase c;
        c.hd = 64;
        c.with_sel = with_sel;
        c.pos = range(27, 13);  // ring of 24 rows wraps; n_c = 7 .. 10
        std::vector<Spec> s = attention_specs(c, 5);
        const int64_t n = 13;
        s[kQ] = f32_spec({c.hd, c.H, n}, std::vector<float>(c.hd * c.H * n, 0.0f));
        std::vector<float> raw(c.hd * c.raw_cap, 0.0f), comp(c.hd * c.cap, 0.0f);
        for (int64_t r = 0; r < c.raw_cap; ++r) raw[r * c.hd + r] = 1.0f;
        for (int64_t r = 0; r < c.cap; ++r) comp[r * c.hd + c.raw_cap + r] = 1.0f;
        s[kRaw] = f32_spec({c.hd, c.raw_cap}, raw);
        s[kComp] = f32_spec({c.hd, c.cap}, comp);
        s[kSinks] = f32_spec({c.H}, std::vector<float>(c.H, -std::numeric_limits<float>::infinity()));
        std::vector<int32_t> sel(s[kSelA].bytes.size() / 4);
        std::memcpy(sel.data(), s[kSelA].bytes.data(), s[kSelA].bytes.size());
        Pair p(s);
        p.run(DS4_OP_ATTENTION, c.params(), c.srcs(), {kOut});
        for (Rig* r : {&p.fused, &p.decomp}) {
            const auto o = r->read_f32(kOut);
            for (int64_t t = 0; t < n; ++t) {
                const int64_t pt = c.pos[t], n_c = (pt + 1) / c.ratio;
                std::set<int64_t> dims;
                for (int64_t pp = std::max<int64_t>(0, pt - c.window + 1); pp <= pt; ++pp) dims.insert(pp % c.raw_cap);
                for (int64_t cc = 0; cc < n_c; ++cc) {
                    const bool listed = std::find(sel.begin() + t * c.k, sel.begin() + (t + 1) * c.k, cc) != sel.begin() + (t + 1) * c.k;
                    if (!with_sel || listed) dims.insert(c.raw_cap + cc);
                }
                for (int64_t h = 0; h < c.H; ++h)
                    for (int64_t i = 0; i < c.hd; ++i) {
                        const float v = o[(t * c.H + h) * c.hd + i];
                        if (dims.count(i))
                            EXPECT_NEAR(v, 1.0f / dims.size(), 1e-6f) << "token " << t << " dim " << i << " should be visible";
                        else
                            EXPECT_EQ(v, 0.0f) << "token " << t << " (pos " << pt << ") sees dim " << i;
                    }
            }
        }
    }
}

TEST(Attention, ThreadCountInvariant) {
    AttentionCase c;
    c.with_sel = true;
    c.pos = range(40, 13);
    const auto specs = attention_specs(c, 8);
    Rig a(specs), b(specs, &cpu_device_1thread());
    for (Rig* r : {&a, &b}) r->run(DS4_OP_ATTENTION, c.params(), c.srcs(), {kOut}, false);
    EXPECT_EQ(a.read(kOut), b.read(kOut));
}

TEST(IndexerTopk, ThreadCountInvariant) {
    IndexerCase c;
    c.numerics = Numerics::Official;
    c.pos = range(200, 13);
    const auto specs = indexer_specs(c, 8);
    Rig a(specs), b(specs, &cpu_device_1thread());
    for (Rig* r : {&a, &b}) r->run(DS4_OP_INDEXER_TOPK, c.params(), {kQr, kA, kWq, kWproj, kKrows, kPos}, {kSel}, false);
    EXPECT_EQ(a.read(kSel), b.read(kSel));
}

}  // namespace
}  // namespace ds4::test
