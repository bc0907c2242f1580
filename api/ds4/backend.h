/* ds4 backend plugin ABI.
 *
 * The only header a backend plugin needs. C99, stable, versioned:
 *   - A plugin is a shared object exporting exactly two symbols, ds4_plugin_score and
 *     ds4_plugin_init (see the end of this file). It links nothing from the host; the host
 *     passes its services (status objects, logging) in ds4_host_api.
 *   - Every struct starts with struct_size. Structs and function tables only grow at the end;
 *     enum values and op ids never change. A reader must not touch fields past the
 *     struct_size the writer declared.
 *   - Each struct says who fills it: "filled by: host" or "filled by: plugin".
 *   - Every fallible call returns ds4_status*: NULL means success, otherwise a status object
 *     created with host->status_new that the HOST frees. Plugins never abort(), exit(), or let
 *     C++ exceptions cross this boundary.
 *
 * See api/README.md for how to write a backend, the versioning rules and the threading contract.
 */
#ifndef DS4_BACKEND_H
#define DS4_BACKEND_H

#include <stddef.h>
#include <stdint.h>
#include "ds4/types.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DS4_ABI_MAJOR 1   /* incompatible change: host and plugin must agree exactly   */
#define DS4_ABI_MINOR 0   /* compatible additions: fields/functions appended at the end */

#define DS4_MAX_DIMS 4
#define DS4_MAX_SRC  8
#define DS4_MAX_DST  4

#if defined(_WIN32)
#define DS4_PLUGIN_EXPORT __declspec(dllexport)
#else
#define DS4_PLUGIN_EXPORT __attribute__((visibility("default")))
#endif

/* ---- status ------------------------------------------------------------------------------ */

typedef enum ds4_status_code {
    DS4_OK                   = 0,
    DS4_ERR_INVALID_ARGUMENT = 1,  /* bad shapes, types, indices, options                    */
    DS4_ERR_OUT_OF_MEMORY    = 2,  /* allocation failed; nothing was changed                 */
    DS4_ERR_UNSUPPORTED      = 3,  /* op/type/shape not supported by this backend            */
    DS4_ERR_DEVICE_LOST      = 4,  /* asynchronous device fault; the device must be reopened */
    DS4_ERR_INTERNAL         = 5,  /* a bug in the plugin                                    */
    DS4_ERR_ABI_MISMATCH     = 6   /* host and plugin ABI majors differ                      */
} ds4_status_code;

/* Opaque, created by the host (host->status_new), freed by the host. NULL = success. */
typedef struct ds4_status ds4_status;

/* ---- opaque plugin objects --------------------------------------------------------------- */

typedef struct ds4_device ds4_device;   /* an opened device (plugin-defined)            */
typedef struct ds4_buffer ds4_buffer;   /* a region of device memory (plugin-defined)   */
typedef struct ds4_plan   ds4_plan;     /* a compiled graph (plugin-defined)            */

/* ---- host services ------------------------------------------------------------------------ */

typedef enum ds4_log_level {
    DS4_LOG_DEBUG = 0, DS4_LOG_INFO = 1, DS4_LOG_WARN = 2, DS4_LOG_ERROR = 3
} ds4_log_level;

/* filled by: host. Valid for the whole time the plugin is loaded. */
typedef struct ds4_host_api {
    uint32_t struct_size;
    uint32_t abi_major;
    uint32_t abi_minor;
    /* Create a status object; message is copied. Never returns NULL (falls back to a static
     * out-of-memory status). */
    ds4_status *(*status_new)(ds4_status_code code, const char *message);
    /* Log a line; thread-safe. */
    void (*log)(ds4_log_level level, const char *plugin_name, const char *message);
} ds4_host_api;

/* ---- tensors and graphs ------------------------------------------------------------------- */

/* A view of a buffer. filled by: host.
 * ne[0] is the contiguous (fastest) dimension; unused dims have ne = 1.
 * nb[i] is the byte stride of dim i. For block-quantized types nb[0] is the block size in
 * bytes and rows (dim 1) must consist of whole contiguous blocks. */
typedef struct ds4_tensor {
    uint32_t    struct_size;
    uint32_t    type;                 /* ds4_type */
    int64_t     ne[DS4_MAX_DIMS];
    int64_t     nb[DS4_MAX_DIMS];
    ds4_buffer *buffer;
    uint64_t    offset;               /* byte offset of element 0 in buffer */
} ds4_tensor;

/* One op application. filled by: host.
 * src[i] may be NULL where an op documents an optional input. dst tensors are written; ops
 * that update state in place (SET_ROWS, COMPRESSOR) also read them. A dst never aliases a src
 * unless the op says so. */
typedef struct ds4_node {
    uint32_t          struct_size;
    uint32_t          op;             /* ds4_op_id */
    uint32_t          n_src;
    uint32_t          n_dst;
    const ds4_tensor *src[DS4_MAX_SRC];
    const ds4_tensor *dst[DS4_MAX_DST];
    const void       *params;         /* the op's params struct, or NULL if it has none */
    uint32_t          params_size;    /* sizeof that struct as the host knows it        */
} ds4_node;

/* Nodes run in order; each node sees the results of the previous ones. filled by: host.
 * plan_create copies everything it needs: the host may free the graph afterwards. */
typedef struct ds4_graph {
    uint32_t        struct_size;
    uint32_t        n_nodes;
    const ds4_node *nodes;
} ds4_graph;

/* ---- ops ----------------------------------------------------------------------------------- */

typedef enum ds4_op_id {
#define DS4_OP(ID, NAME, TIER, PARAMS) DS4_OP_##NAME = ID,
#include "ds4/ops.def"
#undef DS4_OP
    DS4_OP_ID_LIMIT = 128
} ds4_op_id;

typedef enum ds4_act_quant {
    DS4_ACT_F32 = 0,  /* activations stay f32: dequantized weights · f32 x (numerics "exact")   */
    DS4_ACT_DS4 = 1   /* ds4/"official": Q8_0 weights see Q8_0-quantized x (32-blocks, f32 scale),
                         Q2_K/Q4_K/IQ2_XXS weights see Q8_K x (256-blocks); F16/BF16/F32 weights
                         see f32 x. MODEL.md §C.0, §E.5, §E.6. */
} ds4_act_quant;

typedef struct ds4_params_none { uint32_t struct_size; } ds4_params_none;

/* COPY: dst = convert(src0). src0, dst: F32|F16|BF16 with the same ne; any strides (so a
 * transposed view copies into a contiguous tensor). Float→half conversions round to nearest
 * even.
 *
 * GET_ROWS: src0 table [R][n] of any type (quantized rows dequantized exactly as MODEL.md §E),
 * src1 I32 indices [m] (ne0 = m, may be a [a][b] grid), dst F32 [m][n]. Index -1 gives a zero
 * row; any other index outside [0,R) fails the submit with INVALID_ARGUMENT.
 *
 * SET_ROWS: src0 F32 rows [m][n], src1 I32 row indices [m], dst F32|F16 [R][n]:
 * dst[idx[i] mod row_modulo] = src0[i] (row_modulo 0 = no modulo). Index -1 skips the row.
 * Rows are written in order i = 0..m-1. */
typedef struct ds4_params_set_rows {
    uint32_t struct_size;
    uint32_t reserved;
    int64_t  row_modulo;
} ds4_params_set_rows;

/* MATMUL: src0 W [OUT][IN] of any weight type (F32, F16, BF16, Q8_0, Q2_K, Q4_K, IQ2_XXS),
 * src1 x F32 [n][IN] (rows may be strided), dst y F32 [n][OUT]: y[t][o] = Σ_i W[o][i]·x[t][i].
 * Dims 2,3 of src1/dst are batch dims; W broadcasts over them.
 *
 * MATMUL_ID: src0 W [E][OUT][IN], src1 x F32 [n][kx][IN] with kx = 1 (shared by all k
 * selections) or kx = k, src2 ids I32 [n][k], dst F32 [n][k][OUT]:
 * y[t][j] = W[ids[t][j]] · x[t][kx==1 ? 0 : j]. ids -1 gives a zero row.
 * Also used for grouped projections (ids = 0..G-1). */
typedef struct ds4_params_matmul {
    uint32_t struct_size;
    uint32_t act_quant;               /* ds4_act_quant */
} ds4_params_matmul;

/* MATMUL_F32: src0 A F32 [B][M][K], src1 B F32 [B'][N][K], dst F32 [B][M][N]:
 * dst[b][m][n] = Σ_k A[b][m][k]·B[b mod B'][n][k] (k ascending). Both may be strided views
 * (pass a transposed view of V to compute P·V). Dim 3 is an extra batch dim with the same rule.
 *
 * ADD / MUL / DIV: dst = src0 ∘ src1, F32, same ne as src0. src1 broadcasts: each src1.ne[i]
 * is 1 or equal to src0.ne[i]. */

/* SCALE: dst = src0·scale + bias (F32). dst may alias src0. */
typedef struct ds4_params_scale {
    uint32_t struct_size;
    float    scale;
    float    bias;
} ds4_params_scale;

typedef enum ds4_unary_kind {
    DS4_UNARY_SILU     = 0,  /* x·sigmoid(x), sigmoid computed stably (MODEL.md §0)   */
    DS4_UNARY_SIGMOID  = 1,  /* stable: x<0 → e^x/(1+e^x)                              */
    DS4_UNARY_SOFTPLUS = 2,  /* log1p(e^x); x>20 → x; x<-20 → e^x                       */
    DS4_UNARY_SQRT     = 3,
    DS4_UNARY_EXP      = 4,
    DS4_UNARY_RELU     = 5,
    DS4_UNARY_NEG      = 6,
    DS4_UNARY_RECIP    = 7   /* 1/x */
} ds4_unary_kind;

/* UNARY: dst = f(src0), F32, elementwise. dst may alias src0. */
typedef struct ds4_params_unary {
    uint32_t struct_size;
    uint32_t kind;                    /* ds4_unary_kind */
} ds4_params_unary;

/* CLAMP: dst = min(max(src0, lo), hi). Use ±INFINITY for a one-sided clamp. */
typedef struct ds4_params_clamp {
    uint32_t struct_size;
    float    lo;
    float    hi;
} ds4_params_clamp;

/* RMS_NORM: per row (ne0 elements): dst = src0 / sqrt(mean(src0²) + eps) [· src1], where the
 * optional src1 is an F32 weight [ne0]. Σx² accumulates in double, the rest in float
 * (MODEL.md §0). dst may alias src0. */
typedef struct ds4_params_rms_norm {
    uint32_t struct_size;
    float    eps;
} ds4_params_rms_norm;

/* SUM_ROWS: src0 F32 [..][n], dst F32 [..][1]: sum over ne0 in index order. */

/* SOFTMAX: per row of src0 F32 [..][rows][n]:
 *   z_j = src0_j·scale + mask_j      (optional src1 mask F32 [..][n], broadcast like ADD;
 *                                     -INFINITY removes an entry)
 *   with the optional src2 sinks F32 [rows] (indexed by dim 1 of src0): the sink logit s joins
 *   the denominator but yields no output: dst_j = e^{z_j-m} / (e^{s-m} + Σ e^{z-m}),
 *   m = max(s, max z). A row with every entry masked and no sink gives zeros. */
typedef struct ds4_params_softmax {
    uint32_t struct_size;
    float    scale;
} ds4_params_softmax;

/* TOPK: src0 F32 [..][n], dst I32 [..][k]: indices of the k largest entries in descending
 * value order, ties by lowest index; -INFINITY and NaN entries are never selected and the
 * remaining slots get -1.
 *
 * GATHER_COLS: src0 F32 [..][n], src1 I32 [..][k], dst F32 [..][k]:
 * dst[r][j] = src0[r][idx[r][j]], idx -1 gives 0. */

/* RoPE on the last n_rot dims of every row, interleaved pairs (t[2i], t[2i+1]) (MODEL.md
 * §C.3.3). Frequencies f_k = base^(-2k/n_rot), with YaRN when yarn_factor > 1:
 *   corr(β) = n_rot·ln(orig_ctx/(2πβ)) / (2 ln base); low = max(0, floor(corr(beta_fast)));
 *   high = min(n_rot-1, ceil(corr(beta_slow))); ramp_k = clamp((k-low)/max(0.001, high-low), 0, 1);
 *   f_k ← f_k·((1-ramp_k) + ramp_k/yarn_factor). No magnitude scaling.
 * θ_k = pos·f_k. inverse = 1 rotates by -θ. */
typedef struct ds4_rope_params {
    uint32_t struct_size;
    uint32_t n_rot;                   /* 64 in DS4 */
    float    freq_base;               /* 10000 or 160000 */
    float    yarn_factor;             /* 1 = plain RoPE; 16 in compressed layers */
    float    yarn_beta_fast;          /* 32 */
    float    yarn_beta_slow;          /* 1 */
    uint32_t yarn_orig_ctx;           /* 65536 */
    uint32_t reserved;
} ds4_rope_params;

/* ROPE_TAIL: src0 F32 [..][a2][a1][hd] rotated into dst (dst may alias src0); src1 I32
 * positions: position positions[i] applies to every row whose index along dim pos_dim
 * (1 or 2) of src0 is i. */
typedef struct ds4_params_rope {
    uint32_t        struct_size;
    uint32_t        inverse;
    uint32_t        pos_dim;
    uint32_t        reserved;
    ds4_rope_params rope;
} ds4_params_rope;

typedef enum ds4_quant_sim_kind {
    DS4_SIM_FP8_KV      = 0,  /* E4M3 round trip of dims [0, n_nope) in blocks of 64, power-of-two
                                 scales (MODEL.md §C.0); the RoPE tail is untouched              */
    DS4_SIM_INDEXER_QAT = 1,  /* per 128-wide row: Hadamard-128 then FP4 (E2M1) in blocks of 32 */
    DS4_SIM_F16_ROUND   = 2   /* x ← f16→f32(f32→f16(x)), round to nearest even                 */
} ds4_quant_sim_kind;

/* QUANT_SIM: dst = sim(src0), F32 rows of ne0 elements. dst may alias src0. */
typedef struct ds4_params_quant_sim {
    uint32_t struct_size;
    uint32_t kind;                    /* ds4_quant_sim_kind */
    uint32_t n_nope;                  /* FP8_KV: dims simulated (448 in DS4) */
    uint32_t reserved;
} ds4_params_quant_sim;

/* ---- Tier-1 fused DS4 ops (MODEL.md §C). Each has a Tier-0 decomposition in core. --------- */

/* Shared by HC_PRE, HC_POST, HC_HEAD. n_hc = 4 streams, d = model width.
 *
 * HC_PRE (MODEL.md §C.2): src0 X F32 [n][n_hc][d], src1 fn [n_hc·(2+n_hc)][n_hc·d]
 * (F16|BF16|F32), src2 scale F32 [3], src3 base F32 [2·n_hc + n_hc²].
 * dst0 x_in F32 [n][d], dst1 post F32 [n][n_hc], dst2 comb F32 [n][n_hc][n_hc] (comb[a][c],
 * a = source stream, c = destination stream; after Sinkhorn).
 *
 * HC_POST: src0 y F32 [n][d], src1 X F32 [n][n_hc][d], src2 post [n][n_hc],
 * src3 comb [n][n_hc][n_hc]; dst0 X_new F32 [n][n_hc][d] (must not alias X):
 * X_new[c][i] = post[c]·y[i] + Σ_a comb[a][c]·X[a][i] (a ascending).
 *
 * HC_HEAD (MODEL.md §C.5): src0 X F32 [n][n_hc][d], src1 fn [n_hc][n_hc·d], src2 scale F32 [1],
 * src3 base F32 [n_hc]; dst0 h F32 [n][d] = Σ_s w[s]·X[s],
 * w = sigmoid(mix·scale + base) + hc_eps (stable sigmoid). */
typedef struct ds4_params_hc {
    uint32_t struct_size;
    uint32_t n_hc;
    uint32_t sinkhorn_iters;          /* 20 */
    float    hc_eps;                  /* 1e-6: pre-weight offset and Sinkhorn epsilon */
    float    norm_eps;                /* 1e-6: the RMS over the flattened n_hc·d state */
} ds4_params_hc;

/* COMPRESSOR (MODEL.md §C.3.5): consumes tokens in order and emits compressed rows.
 * src0 a F32 [n][d] (attention input), src1 wkv [coff·D][d], src2 wgate [coff·D][d],
 * src3 ape [ratio][coff·D], src4 norm F32 [D], src5 positions I32 [n] (consecutive).
 * dst0 state_kv F32 [coff·ratio][coff·D], dst1 state_score F32 [coff·ratio][coff·D],
 * dst2 rows F32 [cap][D]: the layer's compressed rows (row r written when token
 * p = ratio·(r+1)-1 is consumed). coff = 2 when ratio == 4 (overlapping windows), else 1.
 * After each emission the current-window state rows are reset to kv = 0, score = -INFINITY
 * (for ratio 4 after copying them to the previous-window rows), so the state after a
 * prefill equals the state after streaming the same tokens.
 * Emitted rows: RMSNorm·norm, RoPE of the last n_rot dims at position p+1-ratio, then
 * row_sim (FP8_KV for attention rows, INDEXER_QAT for indexer rows, or none), then
 * F16 rounding when round_f16. A row index >= cap fails with INVALID_ARGUMENT. */
typedef struct ds4_params_compressor {
    uint32_t        struct_size;
    uint32_t        ratio;            /* 4 or 128 in DS4 */
    uint32_t        head_dim;         /* D: 512 attention, 128 indexer */
    uint32_t        row_sim;          /* ds4_quant_sim_kind, or UINT32_MAX for none */
    uint32_t        n_nope;           /* for FP8_KV: 448 */
    uint32_t        round_f16;        /* 1: F16 round trip of stored rows */
    uint32_t        act_quant;        /* ds4_act_quant for the two projections */
    float           norm_eps;
    ds4_rope_params rope;
} ds4_params_compressor;

/* INDEXER_TOPK (MODEL.md §C.3.6): src0 qr_n F32 [n][q_rank], src1 a F32 [n][d],
 * src2 wq_b [n_heads·head_dim][q_rank], src3 wproj [n_heads][d], src4 index_rows F32
 * [cap][head_dim], src5 positions I32 [n]. dst0 selected I32 [n][top_k]: for the token at
 * position p, n_c = floor((p+1)/ratio) rows are visible; if n_c <= top_k all of them are
 * selected, else the top_k by score (ties lowest index). The selection is written in
 * ASCENDING row order, padded with -1.
 * score[c] = Σ_h w_h·max(0, q_h·k_c), q_h = RoPE(wq_b·qr_n) per head [then INDEXER_QAT when
 * qat], w = (wproj·a)·weight_scale. */
typedef struct ds4_params_indexer {
    uint32_t        struct_size;
    uint32_t        n_heads;          /* 64 */
    uint32_t        head_dim;         /* 128 */
    uint32_t        top_k;            /* 512 */
    uint32_t        ratio;            /* 4 */
    uint32_t        qat;              /* 1: Hadamard+FP4 simulation of the queries */
    uint32_t        act_quant;
    float           weight_scale;     /* 1/sqrt(head_dim·n_heads) */
    ds4_rope_params rope;
} ds4_params_indexer;

/* ATTENTION (MODEL.md §C.3.7): src0 q F32 [n][n_heads][hd] (post RoPE), src1 raw ring F32
 * [raw_cap][hd] (position p lives in row p mod raw_cap), src2 compressed rows F32 [cap][hd]
 * or NULL, src3 selected I32 [n][k] or NULL (NULL: every visible compressed row), src4 sinks
 * F32 [n_heads], src5 positions I32 [n]. dst0 o F32 [n][n_heads][hd].
 * The token at p sees raw rows of positions max(0, p-window+1)..p and compressed rows
 * c < floor((p+1)/ratio) (those listed in selected, if given). K = V = the stored row.
 * Order: raw rows oldest → newest, then compressed rows in ascending index; the weighted sum
 * is multiplied by the reciprocal of the denominator. */
typedef struct ds4_params_attention {
    uint32_t struct_size;
    uint32_t window;                  /* 128 */
    uint32_t raw_cap;                 /* rows in the raw ring, >= window + n - 1 */
    uint32_t ratio;                   /* 0 = no compressed rows */
    float    scale;                   /* 1/sqrt(hd) */
    uint32_t reserved;
} ds4_params_attention;

/* MOE_ROUTER (MODEL.md §C.4): src0 z F32 [n][d], src1 w_gate F32|F16|BF16 [E][d],
 * src2 bias F32 [E] or NULL, src3 tid2eid I32 [vocab][k] or NULL (hash routing when given),
 * src4 token ids I32 [n]. dst0 ids I32 [n][k], dst1 weights F32 [n][k].
 * p = sqrt(softplus(w_gate·z)); ids = tid2eid[token] (hash) or top-k of p + bias (ties lowest
 * index, kept in descending order); weights = p[ids] / max(Σ p[ids], denom_floor) · scale,
 * where the sum is p[ids[0]] + ... in order, plus denom_eps. */
typedef struct ds4_params_router {
    uint32_t struct_size;
    uint32_t k;                       /* 6 */
    float    scale;                   /* routed scaling factor, 1.5 */
    float    denom_floor;             /* 2^-14 for ds4 numerics, 0 for exact */
    float    denom_eps;               /* added to the sum (transformers: 1e-20); usually 0 */
    uint32_t reserved;
} ds4_params_router;

/* MOE_FFN (MODEL.md §C.4): src0 z F32 [n][d], src1 gate [E][F][d], src2 up [E][F][d],
 * src3 down [E][d][F] (weight types may differ per tensor; gate and up share one),
 * src4 ids I32 [n][k], src5 weights F32 [n][k]. dst0 out F32 [n][d]:
 * out = Σ_j W_down[id_j]·(silu(min(g, clamp))·clamp(u, -clamp, clamp)·weight_j), j ascending,
 * g = W_gate[id_j]·z, u = W_up[id_j]·z. The weight multiplies the mid vector BEFORE the down
 * projection (and before its Q8_K quantization under DS4_ACT_DS4). ids -1 contribute 0. */
typedef struct ds4_params_moe_ffn {
    uint32_t struct_size;
    uint32_t act_quant;
    float    clamp;                   /* 10 */
    uint32_t reserved;
} ds4_params_moe_ffn;

/* ---- devices, buffers, plans ------------------------------------------------------------- */

/* filled by: plugin (host sets struct_size before the call). */
typedef struct ds4_device_info {
    uint32_t    struct_size;
    uint32_t    unified_memory;       /* 1: host pointers can be wrapped without copies */
    const char *name;                 /* static for the plugin's lifetime */
    uint64_t    memory_total;         /* bytes; 0 if unknown */
    uint64_t    memory_free;          /* bytes; 0 if unknown */
} ds4_device_info;

/* A key/value option for device_open, e.g. {"threads", "8"} or {"inject_fault", "submit:3"}.
 * filled by: host. Unknown keys are refused with INVALID_ARGUMENT naming the key. */
typedef struct ds4_option {
    const char *key;
    const char *value;
} ds4_option;

typedef enum ds4_buffer_usage {
    DS4_BUFFER_WEIGHTS = 1,           /* written once, then read-only */
    DS4_BUFFER_STATE   = 2,           /* session state: KV rows, compressor state */
    DS4_BUFFER_SCRATCH = 4            /* activations inside a graph */
} ds4_buffer_usage;

/* The plugin's function table. filled by: plugin (in ds4_plugin_init).
 * Threading contract: a ds4_device and everything created from it are used by one host
 * thread at a time; distinct devices may be used concurrently. Plugins may use internal
 * worker threads. */
typedef struct ds4_plugin {
    uint32_t    struct_size;
    uint32_t    abi_major;
    uint32_t    abi_minor;
    uint32_t    reserved;
    const char *name;                 /* config name, e.g. "cpu-ref", "cuda", "hip" */
    const char *version;              /* the plugin's own version string */
    void       *self;                 /* plugin-private context passed back below */

    /* Ops this plugin implements (Tier-0 ones are mandatory). Static array. */
    const uint32_t *claimed_ops;
    uint32_t        n_claimed_ops;

    uint32_t     (*device_count)(void *self);
    ds4_status  *(*device_info)(void *self, uint32_t index, ds4_device_info *out);
    ds4_status  *(*device_open)(void *self, uint32_t index, const ds4_option *options,
                                uint32_t n_options, ds4_device **out);
    void         (*device_close)(ds4_device *dev);

    /* 1 if this exact node (op, types, shapes, params) can run on dev; 0 otherwise. Cheap,
     * pure; used by the conformance suite's support matrix and by core to decide whether to
     * decompose a Tier-1 node. */
    int          (*node_supported)(ds4_device *dev, const ds4_node *node);

    /* Buffers. Allocation failure returns DS4_ERR_OUT_OF_MEMORY and leaves *out NULL. */
    ds4_status  *(*buffer_alloc)(ds4_device *dev, uint64_t size, uint32_t usage, ds4_buffer **out);
    /* Optional (may be NULL): wrap host memory (e.g. the GGUF mmap) without copying. The
     * memory must outlive the buffer. */
    ds4_status  *(*buffer_wrap_host)(ds4_device *dev, void *ptr, uint64_t size, uint32_t usage,
                                     ds4_buffer **out);
    void         (*buffer_free)(ds4_buffer *buf);
    ds4_status  *(*buffer_write)(ds4_buffer *buf, uint64_t offset, const void *src, uint64_t size);
    ds4_status  *(*buffer_read)(ds4_buffer *buf, uint64_t offset, void *dst, uint64_t size);

    /* Plans: validate and compile a graph once, submit it many times. The host rewrites
     * small input buffers (positions, token ids) between submits with buffer_write. Errors in
     * the graph (unsupported node, bad shapes) are reported by plan_create naming the node
     * index and op. */
    ds4_status  *(*plan_create)(ds4_device *dev, const ds4_graph *graph, ds4_plan **out);
    ds4_status  *(*plan_submit)(ds4_plan *plan);
    void         (*plan_destroy)(ds4_plan *plan);
    /* Wait for submitted work. Asynchronous faults surface here as DS4_ERR_DEVICE_LOST; after
     * that every call on the device fails with DEVICE_LOST until it is closed. */
    ds4_status  *(*synchronize)(ds4_device *dev);

    /* Release everything; called once before dlclose. May be NULL. */
    void         (*shutdown)(void *self);
} ds4_plugin;

/* ---- the two exported entry points ------------------------------------------------------- */

/* Cheap probe: 0 = cannot run on this machine; higher = better choice for backend "auto". */
typedef int32_t (*ds4_plugin_score_fn)(void);
/* Fill *out (host has set out->struct_size). The plugin sets out->abi_major/abi_minor even when
 * it refuses, so the host can report both versions; it returns DS4_ERR_ABI_MISMATCH when
 * host->abi_major differs from its own. */
typedef ds4_status *(*ds4_plugin_init_fn)(const ds4_host_api *host, ds4_plugin *out);

#define DS4_PLUGIN_SCORE_SYMBOL "ds4_plugin_score"
#define DS4_PLUGIN_INIT_SYMBOL  "ds4_plugin_init"

#ifdef __cplusplus
}
#endif
#endif /* DS4_BACKEND_H */
