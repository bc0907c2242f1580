// cpu-ref internal kernel interface: how one op implementation sees a node.
//
// Every op file in ops/ defines, for each op it implements:
//   KernelStatus check_<op>(const ds4_node& node);           // shapes/types valid? (no side effects)
//   KernelStatus run_<op>(const ds4_node& node, KernelContext& ctx);
// and ops/registry.cpp maps op ids to these pairs. check_* backs node_supported and
// plan_create; run_* executes during plan_submit. Kernels never throw across this boundary:
// a run_* that finds bad data (e.g. an index out of range) returns an error KernelStatus.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

#include "ds4/backend.h"

namespace ds4::cpuref {

// Result of a check or a run: ok, or a code with a message naming what is wrong.
struct KernelStatus {
    ds4_status_code code = DS4_OK;
    std::string message;
    bool ok() const { return code == DS4_OK; }
    static KernelStatus success() { return {}; }
    static KernelStatus invalid(std::string m) { return {DS4_ERR_INVALID_ARGUMENT, std::move(m)}; }
    static KernelStatus unsupported(std::string m) { return {DS4_ERR_UNSUPPORTED, std::move(m)}; }
};

// A fixed pool of worker threads. parallel_for splits [0, n) into contiguous chunks, one per
// worker, in a fixed way that depends only on n and the chunking, never on timing, so each
// output element is always computed by the same code path with the same reduction order:
// results are bit-identical whatever the thread count.
class ThreadPool {
public:
    explicit ThreadPool(int n_threads);
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    int size() const { return n_threads_; }
    // Calls fn(begin, end) over disjoint ranges covering [0, n); blocks until all are done.
    // min_chunk: do not split below this many items per task.
    void parallel_for(int64_t n, int64_t min_chunk, const std::function<void(int64_t, int64_t)>& fn);

private:
    struct Impl;
    Impl* impl_;
    int n_threads_;
};

struct KernelContext {
    ThreadPool& pool;
};

// Base address of element 0 of a tensor (buffer base + offset).
uint8_t* tensor_data(const ds4_tensor* t);
// Address of element (i0, i1, i2, i3) for non-block types (F32, F16, BF16, I32).
inline uint8_t* element_ptr(const ds4_tensor* t, int64_t i0, int64_t i1 = 0, int64_t i2 = 0, int64_t i3 = 0) {
    return tensor_data(t) + i0 * t->nb[0] + i1 * t->nb[1] + i2 * t->nb[2] + i3 * t->nb[3];
}
inline float& f32_at(const ds4_tensor* t, int64_t i0, int64_t i1 = 0, int64_t i2 = 0, int64_t i3 = 0) {
    return *reinterpret_cast<float*>(element_ptr(t, i0, i1, i2, i3));
}
inline int32_t& i32_at(const ds4_tensor* t, int64_t i0, int64_t i1 = 0, int64_t i2 = 0, int64_t i3 = 0) {
    return *reinterpret_cast<int32_t*>(element_ptr(t, i0, i1, i2, i3));
}
// Row r (dims 1..3 flattened as i1 + ne1*(i2 + ne2*i3)) of a tensor with contiguous rows.
uint8_t* row_ptr(const ds4_tensor* t, int64_t i1, int64_t i2 = 0, int64_t i3 = 0);

// Reads params of type P from a node, checking the size (shorter structs from an older host are
// zero-extended). Returns false if params are missing when required.
template <class P>
bool read_params(const ds4_node& node, P* out) {
    *out = P{};
    if (!node.params || node.params_size < sizeof(uint32_t)) return false;
    uint32_t n = node.params_size < sizeof(P) ? node.params_size : static_cast<uint32_t>(sizeof(P));
    const uint8_t* src = static_cast<const uint8_t*>(node.params);
    uint8_t* dst = reinterpret_cast<uint8_t*>(out);
    for (uint32_t i = 0; i < n; ++i) dst[i] = src[i];
    return true;
}

}  // namespace ds4::cpuref
