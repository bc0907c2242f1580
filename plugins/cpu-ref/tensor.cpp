// Tensor addressing of kernel.h: buffers are plain host memory.
#include "kernel.h"
#include "objects.h"

namespace ds4::cpuref {

uint8_t* tensor_data(const ds4_tensor* t) { return t->buffer->data + t->offset; }

uint8_t* row_ptr(const ds4_tensor* t, int64_t i1, int64_t i2, int64_t i3) {
    return tensor_data(t) + i1 * t->nb[1] + i2 * t->nb[2] + i3 * t->nb[3];
}

}  // namespace ds4::cpuref
