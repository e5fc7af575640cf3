/*
 * Internal neural-network layer: an in-memory graph read from a TFLite
 * file, a naive reference executor (the specification every fast path is
 * tested against), and an XNNPACK executor built from the same graph.
 *
 * The graph is immutable after loading and may be shared by any number of
 * runtimes on any threads; its static tensors (weights, dequantized to
 * float32 at load) must outlive every runtime built from it.
 */
#ifndef LFR_NN_H
#define LFR_NN_H

#include <stddef.h>
#include <stdint.h>

#define LFR__MAX_DIMS 5
#define LFR__MAX_IO 8

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
    LFR__OP_PRELU, /* produced by fusion only: out = x > 0 ? x : slope * x */
    LFR__OP_COUNT
} lfr__op_type;

enum { LFR__ACT_NONE = 0, LFR__ACT_RELU = 1, LFR__ACT_RELU_N1_TO_1 = 2, LFR__ACT_RELU6 = 3 };
enum { LFR__PAD_SAME = 0, LFR__PAD_VALID = 1 };

typedef struct lfr__tensor {
    int n_dims;
    int dims[LFR__MAX_DIMS]; /* shape as in the file (batch as stored) */
    const float *data;       /* static values (weights), NULL for activations */
    const int32_t *idata;    /* static int32 values (shapes, paddings), else NULL */
    char name[64];
} lfr__tensor;

typedef struct lfr__op {
    lfr__op_type type;
    int index; /* operator index in the file, for messages */
    int n_in;
    int in[3];
    int out;
    int act;
    int padding;
    int stride_h, stride_w, dil_h, dil_w;
    int filter_h, filter_w; /* pooling window */
    int depth_multiplier;
    int align_corners, half_pixel_centers;
    int axis;
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
    void *arena;    /* owns every static tensor's data */
    void *extra;    /* owns data added by rewrites (fused PReLU slopes) */
} lfr__graph;

/* Parse a TFLite flatbuffer. Every offset is checked against `size`; a
 * malformed file, an unsupported operator or tensor type, or inconsistent
 * shapes give LFR_ERR_FORMAT / LFR_ERR_UNSUPPORTED with a message naming
 * `name` and the operator or offset. The buffer may be freed afterwards. */
int lfr__tflite_load(const uint8_t *buf, size_t size, const char *name, lfr__graph **graph_out);

/* Read a file (ceiling 256 MiB) and parse it. */
int lfr__tflite_load_file(const char *path, lfr__graph **graph_out);

void lfr__graph_free(lfr__graph *g);

/* For tests: the file offset of operator code i's opcode byte (the low byte
 * of builtin_code, or deprecated_builtin_code when that is absent). */
int lfr__tflite_opcode_offset(const uint8_t *buf, size_t size, int i, size_t *off_out);

/* Shape of tensor t when the graph runs at batch `batch`: the leading
 * dimension of activations that carry the file's batch is replaced. */
void lfr__graph_shape(const lfr__graph *g, int t, int batch, int *n_dims_out, int *dims_out);
size_t lfr__graph_numel(const lfr__graph *g, int t, int batch);

/* Operator name for messages ("CONV_2D"). */
const char *lfr__op_name(lfr__op_type type);

/* Replace relu(x) + (x - |x|) * a * b chains with one PRELU op (slope a*b).
 * Returns the number of chains fused, -1 when out of memory. Both executors accept either form,
 * so tests can run the unfused graph against the fused one. */
int lfr__graph_fuse_prelu(lfr__graph *g);

/* ---- Reference executor --------------------------------------------------- */

/* Run the graph naively at batch `batch`. inputs[i] feeds graph input i,
 * outputs[i] receives graph output i (caller-sized per lfr__graph_numel). */
int lfr__ref_run(const lfr__graph *g, int batch, const float *const *inputs, float *const *outputs);

/* The single-operator reference kernels, exposed for unit tests. Shapes are
 * the runtime shapes of the op's tensors. */
int lfr__ref_op(const lfr__graph *g, const lfr__op *op, int batch, const float *const *in,
                float *out);

/* ---- XNNPACK executor ------------------------------------------------------ */

typedef struct lfr__xnn lfr__xnn;

/* A thread pool for runtimes (NULL for n_threads == 1: run on the caller's
 * thread). One pool may serve several runtimes used by one thread. */
int lfr__xnn_pool_create(int n_threads, void **pool_out);
void lfr__xnn_pool_free(void *pool);

/* Build an XNNPACK runtime for the graph at batch `batch` on `pool` (may be
 * NULL; must outlive the runtime). Operators XNNPACK lacks at the graph's
 * tail (CONCATENATION feeding an output) run in C after the runtime. */
int lfr__xnn_create(const lfr__graph *g, int batch, void *pool, lfr__xnn **out);

/* Pointers to the runtime's own input and output buffers (sized per
 * lfr__graph_numel at the runtime's batch). Valid until lfr__xnn_free. */
float *lfr__xnn_input(lfr__xnn *x, int i);
const float *lfr__xnn_output(lfr__xnn *x, int i);

/* Run once on whatever is in the input buffers. */
int lfr__xnn_run(lfr__xnn *x);

/* Zero the runtime's input and output buffers (they hold image pixels and
 * features of whoever was in the last frame). XNNPACK's internal
 * activation workspace is not reachable and is not wiped. */
void lfr__xnn_wipe(lfr__xnn *x);

void lfr__xnn_free(lfr__xnn *x);

/* Initialise XNNPACK once per process (thread-safe). */
int lfr__xnn_init(void);

#endif
