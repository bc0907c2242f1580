// Building ds4_graph values from C++: tensors, views, nodes with typed params, and a scratch
// arena for intermediate activations.
//
// Tensors are owned by the Graph (stable addresses). A tensor lives either in a caller's
// buffer (weights, session state, inputs) or in the graph's scratch arena; scratch offsets are
// assigned by add order and bound to a real buffer with bind_scratch() before the graph is
// handed to plan_create.
//
// Constants (constant()) are scratch tensors with host-known contents (index lists, masks
// built by core/decompose). After bind_scratch the owner of the scratch buffer writes them
// with upload_constants() before the first submit; nothing in a graph may write to them.
//
// Graph passes (core/decompose's lower_unclaimed) rewrite the node list with take_nodes() /
// add_node(); tensors and params storage are never freed, so pointers stay valid.
#pragma once
#include <cstdint>
#include <deque>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "ds4/backend.h"

namespace ds4::host {

class Graph {
public:
    // Contiguous tensor of `type` with ne given innermost first ({ne0, ne1, ...}).
    ds4_tensor* tensor(ds4_type type, std::initializer_list<int64_t> ne, ds4_buffer* buf, uint64_t offset);
    ds4_tensor* tensor(ds4_type type, const std::vector<int64_t>& ne, ds4_buffer* buf, uint64_t offset);
    // Contiguous tensor in the scratch arena (bound later).
    ds4_tensor* scratch(ds4_type type, std::initializer_list<int64_t> ne);
    ds4_tensor* scratch(ds4_type type, const std::vector<int64_t>& ne);
    // A view of `base` with new ne/nb starting `byte_offset` bytes after base's element 0.
    ds4_tensor* view(const ds4_tensor* base, std::initializer_list<int64_t> ne,
                     std::initializer_list<int64_t> nb, uint64_t byte_offset = 0);
    ds4_tensor* view(const ds4_tensor* base, const std::vector<int64_t>& ne, const std::vector<int64_t>& nb,
                     uint64_t byte_offset = 0);
    // Same data, contiguous reshape (base must be contiguous).
    ds4_tensor* reshape(const ds4_tensor* base, std::initializer_list<int64_t> ne);
    ds4_tensor* reshape(const ds4_tensor* base, const std::vector<int64_t>& ne);

    // A contiguous scratch tensor whose contents are `data` (nbytes(tensor) bytes, copied),
    // written by upload_constants().
    ds4_tensor* constant(ds4_type type, const std::vector<int64_t>& ne, const void* data);
    // Writes every constant's bytes at its scratch offset: write(offset, data, size). Call after
    // bind_scratch, with a writer into the scratch buffer (e.g. Buffer::write).
    void upload_constants(const std::function<void(uint64_t, const void*, uint64_t)>& write) const;
    size_t n_constants() const { return constants_.size(); }

    // Appends a node; params are copied.
    template <class P>
    void add(uint32_t op, std::initializer_list<const ds4_tensor*> srcs,
             std::initializer_list<const ds4_tensor*> dsts, const P& params) {
        P p = params;
        p.struct_size = sizeof(P);
        add_raw(op, srcs, dsts, &p, sizeof(P));
    }
    void add(uint32_t op, std::initializer_list<const ds4_tensor*> srcs,
             std::initializer_list<const ds4_tensor*> dsts) {
        add_raw(op, srcs, dsts, nullptr, 0);
    }
    void add_raw(uint32_t op, std::initializer_list<const ds4_tensor*> srcs,
                 std::initializer_list<const ds4_tensor*> dsts, const void* params, uint32_t params_size);

    // Appends a copy of an existing node (from this graph or another): operand pointers are
    // kept, params are copied into this graph's storage.
    void add_node(const ds4_node& node);
    // Removes and returns all nodes (for passes that rebuild the node list with add/add_node).
    std::vector<ds4_node> take_nodes();

    // Scratch arena: bytes needed, and binding to a buffer of at least that size.
    uint64_t scratch_bytes() const { return scratch_bytes_; }
    void bind_scratch(ds4_buffer* buf);

    // The C view of this graph (valid while the Graph lives and is not modified).
    ds4_graph c_graph() const;
    size_t size() const { return nodes_.size(); }
    const ds4_node& node(size_t i) const { return nodes_[i]; }

    static bool is_contiguous(const ds4_tensor& t);
    static uint64_t nbytes(const ds4_tensor& t);  // bytes spanned by a contiguous tensor

private:
    ds4_tensor* make(ds4_type type, const int64_t* ne, size_t n_dims, ds4_buffer* buf, uint64_t offset);

    std::deque<ds4_tensor> tensors_;
    std::vector<ds4_tensor*> scratch_tensors_;  // bound by bind_scratch (views follow their base)
    std::vector<std::pair<ds4_tensor*, const ds4_tensor*>> views_;  // (view, base)
    std::deque<std::vector<uint8_t>> params_;
    std::vector<ds4_node> nodes_;
    struct Constant {
        const ds4_tensor* tensor;
        std::vector<uint8_t> bytes;
    };
    std::vector<Constant> constants_;
    uint64_t scratch_bytes_ = 0;
};

// Shorthand for params structs with struct_size filled.
template <class P>
P params() {
    P p{};
    p.struct_size = sizeof(P);
    return p;
}

}  // namespace ds4::host
