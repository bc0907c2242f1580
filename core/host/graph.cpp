#include "host/graph.h"

#include <cstring>

#include "host/status.h"

namespace ds4::host {
namespace {
constexpr uint64_t kScratchAlign = 256;  // keeps every scratch tensor aligned for SIMD/GPU loads
}

ds4_tensor* Graph::make(ds4_type type, const int64_t* ne, size_t n_dims, ds4_buffer* buf, uint64_t offset) {
    if (n_dims == 0 || n_dims > DS4_MAX_DIMS) throw Error("graph: tensor needs 1..4 dims");
    int64_t be = ds4_type_block_elems(type), bb = ds4_type_block_bytes(type);
    if (be <= 0) throw Error("graph: unknown tensor type " + std::to_string(type));
    ds4_tensor t{};
    t.struct_size = sizeof(ds4_tensor);
    t.type = type;
    for (int i = 0; i < DS4_MAX_DIMS; ++i) t.ne[i] = i < static_cast<int>(n_dims) ? ne[i] : 1;
    if (t.ne[0] % be != 0) throw Error("graph: ne0 not a multiple of the block size");
    t.nb[0] = bb;
    t.nb[1] = (t.ne[0] / be) * bb;
    for (int i = 2; i < DS4_MAX_DIMS; ++i) t.nb[i] = t.nb[i - 1] * t.ne[i - 1];
    t.buffer = buf;
    t.offset = offset;
    tensors_.push_back(t);
    return &tensors_.back();
}

ds4_tensor* Graph::tensor(ds4_type type, std::initializer_list<int64_t> ne, ds4_buffer* buf, uint64_t offset) {
    return make(type, ne.begin(), ne.size(), buf, offset);
}

ds4_tensor* Graph::tensor(ds4_type type, const std::vector<int64_t>& ne, ds4_buffer* buf, uint64_t offset) {
    return make(type, ne.data(), ne.size(), buf, offset);
}

ds4_tensor* Graph::scratch(ds4_type type, std::initializer_list<int64_t> ne) {
    return scratch(type, std::vector<int64_t>(ne));
}

ds4_tensor* Graph::scratch(ds4_type type, const std::vector<int64_t>& ne) {
    ds4_tensor* t = make(type, ne.data(), ne.size(), nullptr, 0);
    scratch_bytes_ = (scratch_bytes_ + kScratchAlign - 1) / kScratchAlign * kScratchAlign;
    t->offset = scratch_bytes_;
    scratch_bytes_ += nbytes(*t);
    scratch_tensors_.push_back(t);
    return t;
}

ds4_tensor* Graph::view(const ds4_tensor* base, std::initializer_list<int64_t> ne,
                        std::initializer_list<int64_t> nb, uint64_t byte_offset) {
    return view(base, std::vector<int64_t>(ne), std::vector<int64_t>(nb), byte_offset);
}

ds4_tensor* Graph::view(const ds4_tensor* base, const std::vector<int64_t>& ne, const std::vector<int64_t>& nb,
                        uint64_t byte_offset) {
    if (ne.empty() || ne.size() > DS4_MAX_DIMS || nb.size() != ne.size())
        throw Error("graph: view needs 1..4 dims and as many strides");
    ds4_tensor t = *base;
    for (int i = 0; i < DS4_MAX_DIMS; ++i) {
        t.ne[i] = i < static_cast<int>(ne.size()) ? ne[i] : 1;
        t.nb[i] = i < static_cast<int>(nb.size()) ? nb[i] : (i > 0 ? t.nb[i - 1] * t.ne[i - 1] : t.nb[0]);
    }
    t.offset = base->offset + byte_offset;
    tensors_.push_back(t);
    ds4_tensor* v = &tensors_.back();
    views_.push_back({v, base});
    return v;
}

ds4_tensor* Graph::reshape(const ds4_tensor* base, std::initializer_list<int64_t> ne) {
    return reshape(base, std::vector<int64_t>(ne));
}

ds4_tensor* Graph::reshape(const ds4_tensor* base, const std::vector<int64_t>& ne) {
    if (!is_contiguous(*base)) throw Error("graph: reshape of a non-contiguous tensor");
    ds4_tensor* t = make(static_cast<ds4_type>(base->type), ne.data(), ne.size(), base->buffer, base->offset);
    int64_t n_old = base->ne[0] * base->ne[1] * base->ne[2] * base->ne[3];
    int64_t n_new = t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
    if (n_old != n_new) throw Error("graph: reshape changes the element count");
    views_.push_back({t, base});
    return t;
}

void Graph::add_raw(uint32_t op, std::initializer_list<const ds4_tensor*> srcs,
                    std::initializer_list<const ds4_tensor*> dsts, const void* params, uint32_t params_size) {
    if (srcs.size() > DS4_MAX_SRC || dsts.size() > DS4_MAX_DST) throw Error("graph: too many node operands");
    ds4_node n{};
    n.struct_size = sizeof(ds4_node);
    n.op = op;
    n.n_src = static_cast<uint32_t>(srcs.size());
    n.n_dst = static_cast<uint32_t>(dsts.size());
    size_t i = 0;
    for (auto* s : srcs) n.src[i++] = s;
    i = 0;
    for (auto* d : dsts) n.dst[i++] = d;
    if (params && params_size) {
        params_.emplace_back(static_cast<const uint8_t*>(params), static_cast<const uint8_t*>(params) + params_size);
        n.params = params_.back().data();
        n.params_size = params_size;
    }
    nodes_.push_back(n);
}

ds4_tensor* Graph::constant(ds4_type type, const std::vector<int64_t>& ne, const void* data) {
    ds4_tensor* t = scratch(type, ne);
    const uint8_t* p = static_cast<const uint8_t*>(data);
    constants_.push_back({t, std::vector<uint8_t>(p, p + nbytes(*t))});
    return t;
}

void Graph::upload_constants(const std::function<void(uint64_t, const void*, uint64_t)>& write) const {
    for (const auto& c : constants_) write(c.tensor->offset, c.bytes.data(), c.bytes.size());
}

void Graph::add_node(const ds4_node& node) {
    ds4_node n = node;
    if (node.params && node.params_size) {
        const uint8_t* p = static_cast<const uint8_t*>(node.params);
        params_.emplace_back(p, p + node.params_size);
        n.params = params_.back().data();
    } else {
        n.params = nullptr;
        n.params_size = 0;
    }
    nodes_.push_back(n);
}

std::vector<ds4_node> Graph::take_nodes() {
    std::vector<ds4_node> out;
    out.swap(nodes_);
    return out;
}

void Graph::bind_scratch(ds4_buffer* buf) {
    for (auto* t : scratch_tensors_) t->buffer = buf;
    // Views were copied from their base; views of views resolve in creation order.
    for (auto& [v, base] : views_) v->buffer = base->buffer;
}

ds4_graph Graph::c_graph() const {
    ds4_graph g{};
    g.struct_size = sizeof(ds4_graph);
    g.n_nodes = static_cast<uint32_t>(nodes_.size());
    g.nodes = nodes_.data();
    return g;
}

bool Graph::is_contiguous(const ds4_tensor& t) {
    int64_t be = ds4_type_block_elems(t.type), bb = ds4_type_block_bytes(t.type);
    if (be <= 0) return false;
    if (t.nb[0] != bb || t.nb[1] != (t.ne[0] / be) * bb) return false;
    for (int i = 2; i < DS4_MAX_DIMS; ++i)
        if (t.nb[i] != t.nb[i - 1] * t.ne[i - 1]) return false;
    return true;
}

uint64_t Graph::nbytes(const ds4_tensor& t) {
    return static_cast<uint64_t>(t.nb[1]) * t.ne[1] * t.ne[2] * t.ne[3];
}

}  // namespace ds4::host
