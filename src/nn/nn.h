/*
 * Internal neural-network layer: an in-memory graph read from a TFLite or
 * an ONNX file, a naive reference executor (the specification every fast
 * path is tested against), and an executor that runs the same graph as
 * XNNPACK subgraphs with the project's own kernels between them for the
 * operators XNNPACK lacks.
 *
 * The graph is immutable after loading and may be shared by any number of
 * runtimes on any threads; its static tensors (weights, dequantized to
 * float32 at load) must outlive every runtime built from it.
 *
 * Using a model (what a detector or embedder does):
 *
 *     lfr__graph *g;
 *     int shape[4] = {1, 3, 480, 640};        // ONNX: the file's NCHW order
 *     if (lfr__graph_load_file("models/yunet_n_dynamic.onnx", 4, shape, &g))
 *         return lfr__err_prefix(...);          // lfr_errmsg() names the file
 *     lfr__xnn *x;
 *     lfr__xnn_create(g, lfr__graph_batch(g), pool, &x);   // once per session
 *     float *in = lfr__xnn_input(x, 0);         // [1, 480, 640, 3]: NHWC
 *     ... fill in ...
 *     lfr__xnn_run(x);                          // allocates nothing
 *     int k = lfr__graph_output_index(g, "cls_8");
 *     const float *cls8 = lfr__xnn_output(x, k); // [1, 4800, 1]
 *     lfr__xnn_wipe(x);                         // when it held a face
 *     lfr__xnn_free(x);  lfr__graph_free(g);
 *
 * Layouts: tensors are stored row-major. Convolutions work on NHWC, so a
 * 4-D input that an ONNX file declares as NCHW ([N, C, H, W]) is read from
 * an NHWC buffer ([N, H, W, C]); lfr__graph_io_shape() gives the buffer's
 * shape and lfr__graph_input_is_nhwc() says when this transposition
 * applies. Outputs are always in the file's own layout (YuNet's cls_8 is
 * [1, N, 1], EdgeFace's embedding [N, 512]).
 */
#ifndef LFR_NN_H
#define LFR_NN_H

#include <stddef.h>
#include <stdint.h>

#define LFR__MAX_DIMS 5
#define LFR__MAX_IO 16
#define LFR__MAX_OP_IN 8

/* Limits applied to every tensor: elements per tensor and per dimension. */
#define LFR__MAX_NUMEL ((size_t)1 << 28)
#define LFR__MAX_DIM (1 << 24)

typedef enum lfr__op_type {
    LFR__OP_CONV2D,
    LFR__OP_DWCONV2D,
    LFR__OP_ADD,
    LFR__OP_SUB,
    LFR__OP_MUL,
    LFR__OP_ABS,
    LFR__OP_RELU,
    LFR__OP_RELU6,
    LFR__OP_MAXPOOL2D,
    LFR__OP_PAD,
    LFR__OP_RESIZE_BILINEAR,
    LFR__OP_RESHAPE,
    LFR__OP_CONCAT,
    LFR__OP_PRELU, /* out = x > 0 ? x : slope * x, slope static [C] (last axis) */
    /* Added for ONNX models; the executor says which run in XNNPACK. */
    LFR__OP_DIV,
    LFR__OP_MAX,
    LFR__OP_MIN,
    LFR__OP_SIGMOID,
    LFR__OP_CLAMP, /* lo <= out <= hi */
    LFR__OP_ERF,
    LFR__OP_GELU,            /* x * 0.5 * (1 + erf(x / sqrt 2)) */
    LFR__OP_TRANSPOSE,       /* output axis i is input axis perm[i] */
    LFR__OP_SLICE,           /* [begin, begin + size) along axis */
    LFR__OP_FULLY_CONNECTED, /* x [.., K], W static [N, K], bias static [N] or none */
    LFR__OP_MATMUL,          /* A [.., M, K] x B [.., K, N] (B [.., N, K] when trans_b) */
    LFR__OP_SOFTMAX,         /* over the last axis */
    LFR__OP_LAYERNORM,       /* over axes axis.., scale and bias static */
    LFR__OP_L2NORM,          /* x / max(||x||, eps) along axis */
    LFR__OP_REDUCE_MEAN,     /* over the axes in the mask `axes`, kept as size 1 */
    LFR__OP_REDUCE_SUM,
    LFR__OP_REDUCE_MAX,
    LFR__OP_REDUCE_L2,
    LFR__OP_RESIZE_NEAREST, /* NHWC, out[y][x] = in[y / scale_h][x / scale_w] */
    LFR__OP_COUNT
} lfr__op_type;

enum { LFR__ACT_NONE = 0, LFR__ACT_RELU = 1, LFR__ACT_RELU_N1_TO_1 = 2, LFR__ACT_RELU6 = 3 };
enum { LFR__PAD_SAME = 0, LFR__PAD_VALID = 1, LFR__PAD_EXPLICIT = 2 };

typedef struct lfr__tensor {
    int n_dims;
    int dims[LFR__MAX_DIMS]; /* shape as stored (batch as in the file) */
    const float *data;       /* static values (weights), NULL for activations */
    const int32_t *idata;    /* static int32 values (shapes, paddings), else NULL */
    char name[64];           /* truncated to 63 characters */
} lfr__tensor;

typedef struct lfr__op {
    lfr__op_type type;
    int index; /* operator (node) index in the file, for messages */
    int n_in;
    int in[LFR__MAX_OP_IN]; /* tensor indices; -1 for an absent optional input */
    int out;
    int act;
    int padding;
    int pad[4]; /* LFR__PAD_EXPLICIT: top, left, bottom, right */
    int stride_h, stride_w, dil_h, dil_w;
    int filter_h, filter_w; /* pooling window */
    int depth_multiplier;
    int groups; /* CONV2D: convolution groups (0 and 1: one group) */
    int align_corners, half_pixel_centers;
    int axis;                /* CONCAT, SLICE, LAYERNORM, L2NORM */
    int begin, size;         /* SLICE */
    int axes;                /* REDUCE_*: bit i set when axis i is reduced */
    int perm[LFR__MAX_DIMS]; /* TRANSPOSE */
    int trans_b;             /* MATMUL */
    int scale_h, scale_w;    /* RESIZE_NEAREST */
    float lo, hi;            /* CLAMP */
    float eps;               /* LAYERNORM, L2NORM */
} lfr__op;

typedef struct lfr__graph {
    char name[256]; /* the file, for messages */
    int n_tensors;
    lfr__tensor *tensors;
    int n_ops;
    lfr__op *ops;
    int n_inputs, inputs[LFR__MAX_IO];
    int n_outputs, outputs[LFR__MAX_IO];
    int file_batch; /* leading dimension of the first input as stored */
    int fixed;      /* shapes fixed at load (ONNX): runtimes use file_batch */
    int batch;      /* the batch asked for at load (0: file_batch), see lfr__graph_batch */
    unsigned char input_nhwc[LFR__MAX_IO]; /* the file says NCHW; the buffer is NHWC */
    void *arena;                           /* owns every static tensor's data (TFLite) */
    void *extra;                           /* owns data added by rewrites (fused PReLU slopes) */
    void **owned;                          /* blocks from lfr__graph_alloc */
    int n_owned, cap_owned;
} lfr__graph;

/* ---- Loading -------------------------------------------------------------- */

/* Load a model file, choosing the reader by its content ("TFL3" at offset 4:
 * TFLite; otherwise ONNX when the name ends in .onnx or the bytes parse as
 * an ONNX ModelProto). `shape` (n_dims values, or n_dims = 0 for the file's
 * own) is the first input's shape in the file's order: for ONNX it fixes
 * every dynamic dimension (YuNet's height and width, EdgeFace's batch); for
 * TFLite only its batch (shape[0]) is used, as the default batch of
 * runtimes. Files are read with a ceiling of 256 MiB. Every failure is
 * LFR_ERR_FORMAT, LFR_ERR_UNSUPPORTED, LFR_ERR_TOO_LARGE, LFR_ERR_IO or
 * LFR_ERR_NOMEM with a one-line message naming the file and the operator
 * (node) or byte offset. */
int lfr__graph_load_file(const char *path, int n_dims, const int *shape, lfr__graph **graph_out);
int lfr__graph_load(const uint8_t *buf, size_t size, const char *name, int n_dims, const int *shape,
                    lfr__graph **graph_out);

/* Parse a TFLite flatbuffer. Every offset is checked against `size`; a
 * malformed file, an unsupported operator or tensor type, or inconsistent
 * shapes give LFR_ERR_FORMAT / LFR_ERR_UNSUPPORTED with a message naming
 * `name` and the operator or offset. The buffer may be freed afterwards. */
int lfr__tflite_load(const uint8_t *buf, size_t size, const char *name, lfr__graph **graph_out);

/* Read a file (ceiling 256 MiB) and parse it. */
int lfr__tflite_load_file(const char *path, lfr__graph **graph_out);

/* Parse an ONNX ModelProto (protobuf wire format, read directly). Every
 * varint, length and offset is checked against `size`; nodes are ordered
 * topologically (a cycle is an error); initialisers are read from raw_data
 * or the typed fields, weights behind DequantizeLinear are dequantized to
 * float32, shape arithmetic (Shape, Gather, Unsqueeze, Concat, Reshape
 * targets, Constant, ...) is evaluated for the given input shape, and
 * BatchNormalization, bias additions, activations, GELU and L2
 * normalisation chains are folded into their neighbours. `shape` is input
 * 0's shape in the file's order (n_dims 0: the file's, which must then be
 * fully static). The buffer may be freed afterwards. */
int lfr__onnx_load(const uint8_t *buf, size_t size, const char *name, int n_dims, const int *shape,
                   lfr__graph **graph_out);

void lfr__graph_free(lfr__graph *g);

/* For tests: the file offset of operator code i's opcode byte (the low byte
 * of builtin_code, or deprecated_builtin_code when that is absent). */
int lfr__tflite_opcode_offset(const uint8_t *buf, size_t size, int i, size_t *off_out);

/* ---- Inspecting a graph ------------------------------------------------------ */

/* Shape of tensor t when the graph runs at batch `batch`: the leading
 * dimension of activations that carry the file's batch is replaced (not in
 * graphs with fixed shapes, where batch must be lfr__graph_batch). */
void lfr__graph_shape(const lfr__graph *g, int t, int batch, int *n_dims_out, int *dims_out);
size_t lfr__graph_numel(const lfr__graph *g, int t, int batch);

/* The same as a value, for kernels. */
typedef struct lfr__shape {
    int n;
    int d[LFR__MAX_DIMS];
} lfr__shape;
lfr__shape lfr__graph_shape_of(const lfr__graph *g, int t, int batch);
size_t lfr__shape_numel(lfr__shape s);

/* The batch runtimes default to (the loaded batch of an ONNX graph). */
int lfr__graph_batch(const lfr__graph *g);

/* Index of the graph input or output whose tensor is called `name`, or -1. */
int lfr__graph_input_index(const lfr__graph *g, const char *name);
int lfr__graph_output_index(const lfr__graph *g, const char *name);

/* Shape of input (is_output 0) or output i at the graph's batch, as its
 * buffer holds it. */
void lfr__graph_io_shape(const lfr__graph *g, int is_output, int i, int *n_dims_out, int *dims_out);

/* Whether input i is read from an NHWC buffer although the file says NCHW. */
int lfr__graph_input_is_nhwc(const lfr__graph *g, int i);

/* Operator name for messages ("CONV_2D"). */
const char *lfr__op_name(lfr__op_type type);

/* Product of dims into *numel_out; 0 (and no value) when it overflows or
 * exceeds LFR__MAX_NUMEL, or a dimension is outside 1..LFR__MAX_DIM. */
int lfr__numel_ok(int n_dims, const int *dims, size_t *numel_out);

/* The shape op's output must have, from its inputs' stored shapes; on
 * failure a reason in why (and 0 returned). Checks everything the kernels
 * rely on (static weights, ranks, channel counts, window sizes). */
int lfr__op_infer_shape(const lfr__graph *g, const lfr__op *op, int *n_out, int *dims_out,
                        const char **why);

/* Check one operator of g: its output shape against lfr__op_infer_shape;
 * LFR_ERR_FORMAT with "file: operator N (NAME): reason" otherwise. */
int lfr__graph_check_op(const lfr__graph *g, const lfr__op *op);

/* Check a whole graph: tensor indices in range and sizes within limits,
 * operators in execution order, each writing a fresh activation, each
 * output shape equal to what its inputs imply, every graph output
 * computed. LFR_ERR_FORMAT with the operator named on failure. A graph
 * that passes is safe to execute. */
int lfr__graph_check(const lfr__graph *g);

/* IEEE half-precision bits to float. */
float lfr__half_to_float(uint16_t h);

/* Memory owned by the graph, zeroed, 64-byte aligned; NULL when out of
 * memory or bytes is 0. Freed by lfr__graph_free. */
void *lfr__graph_alloc(lfr__graph *g, size_t bytes);

/* Append a tensor (zeroed, named) or an operator; the index, or -1 when out
 * of memory. Pointers into g->tensors / g->ops are invalidated. */
int lfr__graph_add_tensor(lfr__graph *g, const char *name);
int lfr__graph_add_op(lfr__graph *g, const lfr__op *op);

/* ---- Rewrites ---------------------------------------------------------------- */

/* Replace relu(x) + (x - |x|) * a * b chains with one PRELU op (slope a*b).
 * Returns the number of chains fused, -1 when out of memory. Both executors accept either form,
 * so tests can run the unfused graph against the fused one. */
int lfr__graph_fuse_prelu(lfr__graph *g);

/* Rewrites the ONNX reader applies: a per-channel MUL or ADD of static
 * values after a convolution or fully connected layer folded into its
 * weights and bias; RELU, RELU6 and CLAMP(-1, 1) after a convolution,
 * fully connected layer, pooling or addition folded into its activation;
 * x * 0.5 * (1 + erf(x / sqrt 2)) chains into one GELU; x / max(||x||, eps)
 * chains into one L2NORM; operators whose outputs nothing reads dropped.
 * Returns the number of rewrites, -1 when out of memory. Operators are
 * removed; tensors are left (unused). */
int lfr__graph_fuse_onnx(lfr__graph *g);

/* ---- Reference executor --------------------------------------------------- */

/* Run the graph naively at batch `batch`. inputs[i] feeds graph input i,
 * outputs[i] receives graph output i (caller-sized per lfr__graph_numel). */
int lfr__ref_run(const lfr__graph *g, int batch, const float *const *inputs, float *const *outputs);

/* The single-operator reference kernels, exposed for unit tests. Shapes are
 * the runtime shapes of the op's tensors. */
int lfr__ref_op(const lfr__graph *g, const lfr__op *op, int batch, const float *const *in,
                float *out);

/* ---- The project's own fast kernels ------------------------------------------- */

/* Run one operator that XNNPACK does not (TRANSPOSE, SLICE, CONCAT,
 * MATMUL, LAYERNORM, L2NORM, GELU, ERF, REDUCE_*, ...) with the fast
 * kernels, on `pool` when not NULL. Allocates nothing. Operators without a
 * fast kernel run the reference kernel. */
int lfr__kern_op(const lfr__graph *g, const lfr__op *op, int batch, const float *const *in,
                 float *out, void *pool);

/* Whether lfr__kern_op has a fast kernel for op (else the reference runs). */
int lfr__kern_has(const lfr__op *op);

/* Whether op is a depthwise convolution with a window of more than 25 taps
 * and one output per input channel: the executor runs those with our
 * kernel, as Debian's XNNPACK has no microkernel for them. */
int lfr__kern_large_dwconv(const lfr__graph *g, const lfr__op *op);

/* ---- XNNPACK executor ------------------------------------------------------ */

typedef struct lfr__xnn lfr__xnn;

/* A thread pool for runtimes (NULL for n_threads == 1: run on the caller's
 * thread). One pool may serve several runtimes used by one thread. */
int lfr__xnn_pool_create(int n_threads, void **pool_out);
void lfr__xnn_pool_free(void *pool);

/* Build a runtime for the graph at batch `batch` on `pool` (may be NULL;
 * must outlive the runtime). Runs of operators XNNPACK supports become
 * XNNPACK runtimes; the others run as the project's own kernels between
 * them. Every buffer is allocated here (intermediate tensors whose
 * lifetimes do not overlap share memory), so lfr__xnn_run allocates
 * nothing. */
int lfr__xnn_create(const lfr__graph *g, int batch, void *pool, lfr__xnn **out);

/* The same with every operator a step of its own (XNNPACK runtimes of one
 * operator each): slower, for lfr__xnn_profile to time each operator. */
int lfr__xnn_create_split(const lfr__graph *g, int batch, void *pool, lfr__xnn **out);

/* Pointers to the runtime's own input and output buffers (sized per
 * lfr__graph_numel at the runtime's batch). Valid until lfr__xnn_free. */
float *lfr__xnn_input(lfr__xnn *x, int i);
const float *lfr__xnn_output(lfr__xnn *x, int i);

/* Run once on whatever is in the input buffers. */
int lfr__xnn_run(lfr__xnn *x);

/* Zero the runtime's buffers (inputs, outputs and every intermediate
 * tensor between XNNPACK runtimes: they hold image pixels and features of
 * whoever was in the last frame). XNNPACK's internal activation workspace
 * is not reachable and is not wiped. */
void lfr__xnn_wipe(lfr__xnn *x);

void lfr__xnn_free(lfr__xnn *x);

/* How the runtime was split, for benchmarks and tests: the number of
 * XNNPACK runtimes and of operators run by the project's own kernels. */
void lfr__xnn_stats(const lfr__xnn *x, int *n_xnn_out, int *n_own_out);

/* Time each step of one run (for benchmarks): ms_out[k] gets the time of
 * step k, names_out[k] a description; at most cap steps. Returns the
 * number of steps. */
int lfr__xnn_profile(lfr__xnn *x, double *ms_out, const char **names_out, int cap);

/* Initialise XNNPACK once per process (thread-safe). */
int lfr__xnn_init(void);

#endif
