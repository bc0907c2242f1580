#include "model/synthetic_fast.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <thread>
#include <vector>

#include "host/status.h"
#include "quant/quant.h"

namespace ds4::model::detail {
namespace {

uint64_t mix(uint64_t z) {  // splitmix64 finalizer
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

struct Rng {
    uint64_t s;
    uint64_t next() { return mix(s += 0x9E3779B97F4A7C15ull); }
    float uniform() { return static_cast<float>((next() >> 40) * (1.0 / 16777216.0)) * 2.0f - 1.0f; }  // [-1, 1)
};

void random_bytes(Rng& rng, uint8_t* p, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t v = rng.next();
        std::memcpy(p + i, &v, 8);
    }
    if (i < n) {
        uint64_t v = rng.next();
        std::memcpy(p + i, &v, n - i);
    }
}

// Where a block type keeps its f16 scales. Random quants make every sub-block term a product
// of independent uniforms, so a min of dmin_ratio·d cancels the mean of d·scale·q:
// Q2_K E[sc·q] = 7.5·1.5 = 1.5·E[m]; Q4_K E[sc·q] = 31.5·7.5 = 7.5·E[m].
struct BlockScales {
    int d_off = -1, dmin_off = -1;
    float dmin_ratio = 0;
};

BlockScales block_scales(ds4_type type) {
    switch (type) {
    case DS4_TYPE_Q8_0: return {0, -1, 0};
    case DS4_TYPE_IQ2_XXS: return {0, -1, 0};
    case DS4_TYPE_Q2_K: return {80, 82, 1.5f};
    case DS4_TYPE_Q4_K: return {0, 2, 7.5f};
    default: return {};
    }
}

void put_f16(uint8_t* p, float v) {
    uint16_t h = quant::f32_to_f16(v);
    std::memcpy(p, &h, 2);
}

void set_scales(uint8_t* data, size_t n_blocks, int64_t block_bytes, const BlockScales& bs, float d) {
    for (size_t b = 0; b < n_blocks; ++b) {
        uint8_t* blk = data + b * block_bytes;
        put_f16(blk + bs.d_off, d);
        if (bs.dmin_off >= 0) put_f16(blk + bs.dmin_off, d * bs.dmin_ratio);
    }
}

// Standard deviation of random blocks with d = 1 (decoded by ds4::quant itself, so it is
// right by construction): the scale d = sigma / unit_std gives the requested deviation.
double unit_std(ds4_type type) {
    const BlockScales bs = block_scales(type);
    const int64_t be = ds4_type_block_elems(type), bb = ds4_type_block_bytes(type);
    const size_t n_blocks = 2048;
    std::vector<uint8_t> q(n_blocks * bb);
    Rng rng{0x5EED0F57D0ull};
    random_bytes(rng, q.data(), q.size());
    set_scales(q.data(), n_blocks, bb, bs, 1.0f);
    std::vector<float> f(n_blocks * be);
    quant::dequantize_row(type, q.data(), f.data(), static_cast<int64_t>(f.size()));
    double sum = 0, sum2 = 0;
    for (float v : f) sum += v, sum2 += double(v) * v;
    const double mean = sum / f.size();
    return std::sqrt(std::max(0.0, sum2 / f.size() - mean * mean));
}

bool is_float(ds4_type t) { return t == DS4_TYPE_F32 || t == DS4_TYPE_F16 || t == DS4_TYPE_BF16; }

}  // namespace

bool fast_tensor_type(ds4_type type) { return is_float(type) || block_scales(type).d_off >= 0; }

void stream_fast_tensor(gguf::ByteSink& sink, ds4_type type, int64_t row_len, int64_t rows, float sigma,
                        uint64_t seed, unsigned threads, const std::function<void(uint64_t)>& on_bytes) {
    if (!fast_tensor_type(type)) throw Error(std::string("synthetic: no fast generator for ") + ds4_type_name(type));
    const int64_t row_bytes = ds4_type_row_bytes(type, row_len);
    if (row_bytes <= 0) throw Error("synthetic: bad row length for " + std::string(ds4_type_name(type)));
    const BlockScales bs = block_scales(type);
    const int64_t block_bytes = ds4_type_block_bytes(type);
    const float d = is_float(type) ? 0.0f : static_cast<float>(sigma / unit_std(type));
    const float width = sigma * std::sqrt(3.0f);  // U(-w, w) has deviation w / sqrt(3)

    // Units are the seeding granule (fixed: the output must not depend on threads); batches
    // bound the memory held between generation and the sink.
    const int64_t unit_rows = std::max<int64_t>(1, (int64_t(1) << 18) / row_len);
    const int64_t n_units = (rows + unit_rows - 1) / unit_rows;
    const int64_t batch_units = std::max<int64_t>(1, (int64_t(64) << 20) / (unit_rows * row_bytes));
    unsigned n_threads = threads ? threads : std::max(1u, std::thread::hardware_concurrency());

    auto fill_unit = [&](int64_t u, uint8_t* out, std::vector<float>& scratch) {
        const int64_t r0 = u * unit_rows, nr = std::min(unit_rows, rows - r0);
        Rng rng{mix(seed ^ mix(static_cast<uint64_t>(u) + 1))};
        if (is_float(type)) {
            scratch.resize(static_cast<size_t>(row_len));
            for (int64_t r = 0; r < nr; ++r) {
                for (float& v : scratch) v = width * rng.uniform();
                quant::quantize_row(type, scratch.data(), out + r * row_bytes, row_len);
            }
        } else {
            random_bytes(rng, out, static_cast<size_t>(nr * row_bytes));
            set_scales(out, static_cast<size_t>(nr * row_bytes / block_bytes), block_bytes, bs, d);
        }
    };

    std::vector<uint8_t> buf;
    for (int64_t u0 = 0; u0 < n_units; u0 += batch_units) {
        const int64_t nu = std::min(batch_units, n_units - u0);
        const int64_t r_end = std::min(rows, (u0 + nu) * unit_rows);
        const size_t bytes = static_cast<size_t>((r_end - u0 * unit_rows) * row_bytes);
        buf.resize(bytes);
        std::atomic<int64_t> next{0};
        auto work = [&] {
            std::vector<float> scratch;
            for (int64_t i; (i = next.fetch_add(1)) < nu;)
                fill_unit(u0 + i, buf.data() + i * unit_rows * row_bytes, scratch);
        };
        const unsigned nt = static_cast<unsigned>(std::min<int64_t>(n_threads, nu));
        if (nt <= 1) {
            work();
        } else {
            std::vector<std::thread> pool;
            for (unsigned t = 0; t < nt; ++t) pool.emplace_back(work);
            for (auto& th : pool) th.join();
        }
        sink.write(buf.data(), bytes);
        if (on_bytes) on_bytes(bytes);
    }
}

}  // namespace ds4::model::detail
