/* ds4 element types: the GGUF tensor type ids (the numbers never change).
 * C99, shared by the plugin ABI, the GGUF reader/writer and the quantizers. */
#ifndef DS4_TYPES_H
#define DS4_TYPES_H
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ds4_type {
    DS4_TYPE_F32     = 0,
    DS4_TYPE_F16     = 1,
    DS4_TYPE_Q8_0    = 8,   /* 34 B per 32:  f16 d, int8 q[32] */
    DS4_TYPE_Q2_K    = 10,  /* 84 B per 256 */
    DS4_TYPE_Q4_K    = 12,  /* 144 B per 256 */
    DS4_TYPE_Q8_K    = 15,  /* 292 B per 256, activations only */
    DS4_TYPE_IQ2_XXS = 16,  /* 66 B per 256 */
    DS4_TYPE_I32     = 26,
    DS4_TYPE_BF16    = 30
} ds4_type;

/* Elements per block (1 for plain types); 0 for a type ds4 does not know. */
static inline int64_t ds4_type_block_elems(uint32_t type) {
    switch (type) {
    case DS4_TYPE_F32: case DS4_TYPE_F16: case DS4_TYPE_BF16: case DS4_TYPE_I32: return 1;
    case DS4_TYPE_Q8_0: return 32;
    case DS4_TYPE_Q2_K: case DS4_TYPE_Q4_K: case DS4_TYPE_Q8_K: case DS4_TYPE_IQ2_XXS: return 256;
    default: return 0;
    }
}

/* Bytes per block; 0 for a type ds4 does not know. */
static inline int64_t ds4_type_block_bytes(uint32_t type) {
    switch (type) {
    case DS4_TYPE_F32: case DS4_TYPE_I32: return 4;
    case DS4_TYPE_F16: case DS4_TYPE_BF16: return 2;
    case DS4_TYPE_Q8_0: return 34;
    case DS4_TYPE_Q2_K: return 84;
    case DS4_TYPE_Q4_K: return 144;
    case DS4_TYPE_Q8_K: return 292;
    case DS4_TYPE_IQ2_XXS: return 66;
    default: return 0;
    }
}

/* Lower-case name as GGUF tools print it ("q8_0", "iq2_xxs"); "?" when unknown. */
static inline const char *ds4_type_name(uint32_t type) {
    switch (type) {
    case DS4_TYPE_F32: return "f32";
    case DS4_TYPE_F16: return "f16";
    case DS4_TYPE_BF16: return "bf16";
    case DS4_TYPE_I32: return "i32";
    case DS4_TYPE_Q8_0: return "q8_0";
    case DS4_TYPE_Q2_K: return "q2_k";
    case DS4_TYPE_Q4_K: return "q4_k";
    case DS4_TYPE_Q8_K: return "q8_k";
    case DS4_TYPE_IQ2_XXS: return "iq2_xxs";
    default: return "?";
    }
}

/* Bytes of one row of n elements (n must be a multiple of the block size), or -1. */
static inline int64_t ds4_type_row_bytes(uint32_t type, int64_t n) {
    int64_t be = ds4_type_block_elems(type);
    if (be <= 0 || n < 0 || n % be != 0) return -1;
    return (n / be) * ds4_type_block_bytes(type);
}

#ifdef __cplusplus
}
#endif
#endif
