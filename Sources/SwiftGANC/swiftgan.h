/*
 * swiftgan.h — the C ABI of libswiftgan.so, SwiftGAN's Swift training core.
 *
 * Conventions
 *  - Every function returning sg_status returns SG_OK (0) on success. On failure
 *    the message is read with sg_last_error() on the same thread.
 *  - Handles (sg_handle) are opaque tokens (never addresses) of one of several kinds (a GAN, a feature
 *    network), created through an out-parameter by the kind's sg_<kind>_create and freed by sg_handle_free
 *    (which accepts NULL). The sg_handle_* and sg_tensor_* calls serve every kind; sg_<kind>_* calls take
 *    their kind only. A freed handle, a handle of another kind, or any pointer a create did not return, is
 *    refused with SG_INVALID_ARGUMENT. Calls on one handle are serialised by a lock inside it; different
 *    handles may run in parallel; freeing a handle while another thread uses it ends it when that call returns.
 *  - The header names no loss, penalty or architecture: options are "key=value" lines that sg_options
 *    describes, and a training step's inputs are named arrays that sg_gan_step_inputs lists.
 *  - Every value is validated by the core, which words the message; callers need not check first.
 *  - Bulk data is caller-allocated float32, C-contiguous, and every buffer comes with its
 *    element count, which the library checks before touching it. The library never keeps a
 *    pointer it was given past the call, and never frees one.
 *  - Strings returned by the library are owned by the library (see each function).
 *  - No argument crashes the library: a NULL pointer, a wrong count or shape, a value out of
 *    range gives SG_INVALID_ARGUMENT and a message (a pointer to fewer elements than its count
 *    says is the one thing it cannot detect).
 */
#ifndef SWIFTGAN_H
#define SWIFTGAN_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The version of this ABI; the Python module refuses a library with another one. */
#define SG_ABI_VERSION 17

typedef int32_t sg_status;
#define SG_OK 0
#define SG_INVALID_ARGUMENT 1 /* the caller passed a bad value; nothing changed */
#define SG_ENGINE_ERROR 2     /* the engine failed */
#define SG_DIVERGED 3         /* a training step's loss, gradient or update was not finite (NaN or inf) and was not
                                 applied (option non_finite=raise); sg_last_error() names the iteration and the term */
#define SG_OUT_OF_MEMORY 4    /* the call needed more memory than the process can get: refused before its work,
                                 nothing changed; sg_last_error() names what and how many bytes */

/* A caller's float32 array: `count` values at `values` (the product of shape[0..ndim)), C order. */
#define SG_MAX_DIMS 8
typedef struct {
    const float *values; /* NULL: not given */
    int64_t count;
    int32_t ndim;        /* 0 to SG_MAX_DIMS */
    int64_t shape[SG_MAX_DIMS];
} sg_array;

/* A handle of any kind (see the conventions). */
typedef struct sg_handle sg_handle;

/* Which tensors sg_tensor_* enumerate. */
#define SG_TENSORS_MODEL 0 /* the networks' parameters and buffers in state_dict order (a GAN: G.* then D.*) */
#define SG_TENSORS_FULL 1  /* model tensors, then the optimizers' state (a GAN: and G's moving average) */
#define SG_TENSORS_GRADIENTS 2 /* a GAN's last D step's and G step's gradients (D.* then G.*), available after a
                                  step with retained gradients; read-only */

/* Order of the values sg_gan_train_step writes into `stats` (sg_stat_names gives each one's name and meaning). */
#define SG_STAT_D_LOSS 0
#define SG_STAT_G_LOSS 1
#define SG_STAT_D_REAL 2 /* mean critic output on real data */
#define SG_STAT_D_FAKE 3 /* mean critic output on fake data */
#define SG_STAT_PENALTY 4
#define SG_STAT_K 5        /* the equilibrium coefficient k_t after the step, of a loss that keeps one (0 otherwise) */
#define SG_STAT_M_GLOBAL 6 /* the convergence measure of a loss that keeps one (0 otherwise) */
#define SG_STAT_D_LOSS_REAL 7 /* the critic loss's term on real data (NaN for paired and all-pairs relativistic losses) */
#define SG_STAT_D_LOSS_FAKE 8 /* the critic loss's term on fake data (NaN likewise) */
#define SG_STAT_SKIPPED_STEPS 9 /* iterations so far whose non-finite update was skipped (non_finite=skip) */
#define SG_STAT_COUNT 10

/* SG_ABI_VERSION of the loaded library. */
int32_t sg_abi_version(void);

/* The last failure's message on this thread ("" if none). Owned by the library,
 * valid until the next failing call on this thread. */
const char *sg_last_error(void);

/* The memory the process can still get, in bytes (the smaller of what the system has available and what its
 * limits leave: RLIMIT_AS, RLIMIT_DATA, the cgroup's memory.max), the same figure the core checks each
 * allocation-heavy call against before its work. */
sg_status sg_memory_available(int64_t *bytes);

/* Creates a GAN from "key=value" lines separated by '\n' (keys: see
 * sg_handle_config's output; `loss` is applied first with its preset, the other keys
 * override it). Unknown keys or bad values fail with SG_INVALID_ARGUMENT. *out
 * receives a handle the caller frees with sg_handle_free. */
sg_status sg_gan_create(const char *config, sg_handle **out);

/* The option table: one "name\tkind\tdefault\tvalues\thelp\tscope\n" line per option sg_gan_create accepts,
 * in the order sg_handle_config lists them, NUL-terminated, into buffer (capacity bytes); *needed receives
 * the size required including the NUL. kind is int, float, bool, choice, loss or seed; values is the
 * allowed range or set ("1..1000", "positive", "[0, 1)", "adam|rmsprop|sgd"); default is the value
 * before any loss preset; scope is "all" or the configurations the option acts on ("loss <name>",
 * "penalty -<suffix>", "arch <name>", "optimizer <name>", "lr_schedule <name>"; elsewhere it is accepted and
 * changes nothing). Fails with SG_INVALID_ARGUMENT when capacity is too small. */
sg_status sg_options(char *buffer, int64_t capacity, int64_t *needed);

/* The statistics a step writes, as "name\tmeaning\n" lines in SG_STAT_* order, NUL-terminated, into buffer
 * (capacity bytes); *needed receives the size required including the NUL. */
sg_status sg_stat_names(char *buffer, int64_t capacity, int64_t *needed);

/* The kernels the libraries under the core run on this processor, as "library\tkernels\n" lines, NUL-terminated, into
 * buffer (capacity bytes); *needed receives the size required including the NUL: "openblas" with the core OpenBLAS
 * chose when it was loaded ("SkylakeX", "Haswell", "Prescott", ...) and "onednn" with the instruction set oneDNN
 * uses ("AVX-512 with AMX", "AVX2", ...). */
sg_status sg_kernels(char *buffer, int64_t capacity, int64_t *needed);

/* ---- Every handle kind ------------------------------------------------------------------------------------ */

/* Frees a handle of any kind; NULL is accepted (SG_OK). A handle freed already, or not made by a create,
 * gives SG_INVALID_ARGUMENT and changes nothing. */
sg_status sg_handle_free(sg_handle *handle);

/* The handle's kind ("gan", "features"), NUL-terminated, into buffer (sized as sg_handle_config). */
sg_status sg_handle_kind(sg_handle *handle, char *buffer, int64_t capacity, int64_t *needed);

/* Writes the resolved configuration as "key=value\n" lines, NUL-terminated, into
 * buffer (capacity bytes); *needed receives the size required including the NUL.
 * Fails with SG_INVALID_ARGUMENT (writing nothing) when capacity is too small. */
sg_status sg_handle_config(sg_handle *handle, char *buffer, int64_t capacity, int64_t *needed);

/* Runs this handle's work on `threads` threads (1 to 1024; 0: the default, OMP_NUM_THREADS when the
 * environment sets it, else the cores available). The setting belongs to the handle: every call on it
 * uses that many threads of the one OpenMP team that oneDNN, OpenBLAS and the core share. Results are
 * bit-identical for the same thread count. sg_handle_get_threads reads the setting. */
sg_status sg_handle_set_threads(sg_handle *handle, int32_t threads);
sg_status sg_handle_get_threads(sg_handle *handle, int32_t *threads);

/* Number of tensors in the set `which` (SG_TENSORS_*). */
sg_status sg_tensor_count(sg_handle *handle, int32_t which, int64_t *count);

/* Name, rank and shape (up to 8 dims) of tensor `index` of set `which`. *name is
 * owned by the handle, valid until it is freed. */
sg_status sg_tensor_info(sg_handle *handle, int32_t which, int64_t index, const char **name, int32_t *ndim,
                         int64_t *shape);

/* Copies tensor `index` of set `which` (count floats, which must equal its size) out of the handle. Reading a
 * gradient fails until a step ran with retained gradients. */
sg_status sg_tensor_read(sg_handle *handle, int32_t which, int64_t index, float *out, int64_t count);

/* Writes n tensors of set `which` at once: tensor indices[i] from values[i] (its shape must be the tensor's).
 * Every tensor is checked first (its shape; values finite; a variance — batch-norm running_var, Adam's exp_avg_sq,
 * RMSprop's square_avg — not negative): on any failure nothing is written. Gradients cannot be written. */
sg_status sg_tensor_write(sg_handle *handle, int32_t which, int64_t n, const int64_t *indices, const sg_array *values);

/* ---- GANs ---------------------------------------------------------------------------------------------- */


/* One named input of a training step. */
typedef struct {
    const char *name;
    sg_array array;
} sg_named_array;

/* The inputs a training step of this GAN takes, as "name\tshape\tper_step\tmeaning\n" lines (sized as
 * sg_handle_config): `real` (required), the latents `z` and `z_g`, and the random inputs the loss's penalties
 * declare. shape is one entry's, with B the batch and B' the critic's batch (B / pack); per_step is 1 when each
 * of the n_critic critic steps takes its own entry: the array is then one entry (used by every step, or for
 * n_critic = 1) or [n_critic, entry]. Latents may also be given as [..., z_dim, 1, 1]. */
sg_status sg_gan_step_inputs(sg_handle *gan, char *buffer, int64_t capacity, int64_t *needed);

/* One training iteration (n_critic D steps, then one G step) on the `count` named `inputs` (any order; a
 * random input not given is drawn from the GAN's own random stream; a name the GAN does not take, or given
 * twice, fails). The library reads the arrays during the call only. Shapes are checked
 * first: a wrong one fails with SG_INVALID_ARGUMENT and nothing changes. Before each update the loss,
 * the gradients and the update itself are checked for NaN/inf: a non-finite update is never applied; with
 * non_finite=raise the call fails with SG_DIVERGED (when it is the iteration's first update, nothing changed:
 * weights, moments, buffers, random stream), with non_finite=skip it returns SG_OK and SG_STAT_SKIPPED_STEPS
 * counts it.
 *  stats: receives min(stats_capacity, SG_STAT_COUNT) doubles (SG_STAT_*); NULL with capacity 0. */
sg_status sg_gan_train_step(sg_handle *gan, const sg_named_array *inputs, int32_t count, double *stats,
                            int32_t stats_capacity);

/* Generates n samples from latents z of shape [n, z_dim] into out (out_count floats, which must be
 * n × sample), with the generator in evaluation mode. */
sg_status sg_gan_generate(sg_handle *gan, const sg_array *z, float *out, int64_t out_count);

/* Generates n samples from latents drawn with the GAN's own random stream into out (out_count
 * floats, which must be n × sample). */
sg_status sg_gan_sample(sg_handle *gan, int64_t n, float *out, int64_t out_count);

/* Keeps (on != 0) or stops keeping copies of each step's gradients (SG_TENSORS_GRADIENTS). */
sg_status sg_gan_set_retain_gradients(sg_handle *gan, int32_t on);

/* ---- Training over several processes --------------------------------------------------------------------- */

#define SG_REDUCE_SUM 0
#define SG_REDUCE_MAX 1

/* The collectives of one training spread over `size` processes (ranks), supplied by the host (Python's
 * swiftgan.distributed, over mpi4py): the library links no MPI. Every rank calls the same collectives in the same
 * order with the same counts, always from the thread running sg_gan_train_step (never from inside a parallel
 * region). Each returns 0 on success; any other value is a failure: the library then makes no further collective
 * call, finishes the step's passes without waiting for peers, applies nothing and fails the step with
 * SG_ENGINE_ERROR naming the rank and the collective.
 *  all_reduce_f32/_f64: buffer[0..count) <- the element-wise SG_REDUCE_* of every rank's buffer, the same on every
 *    rank (an MPI_Allreduce in place);
 *  all_gather_f32: gathered[0..size*count) <- every rank's local[0..count), rank 0's first;
 *  broadcast_f32: buffer <- rank root's buffer;  barrier: returns once every rank called it;
 *  abandon: this rank's own work failed with `message`; make its peers' collectives fail rather than wait
 *    (an MPI host aborts the job);
 *  release: called once when the library no longer uses the communicator (the GAN freed, or another set). */
typedef struct {
    void *context;
    int32_t rank;
    int32_t size;
    int32_t (*all_reduce_f32)(void *context, float *buffer, int64_t count, int32_t op);
    int32_t (*all_reduce_f64)(void *context, double *buffer, int64_t count, int32_t op);
    int32_t (*all_gather_f32)(void *context, float *gathered, const float *local, int64_t count);
    int32_t (*broadcast_f32)(void *context, float *buffer, int64_t count, int32_t root);
    int32_t (*barrier)(void *context);
    void (*abandon)(void *context, const char *message);
    void (*release)(void *context);
} sg_communicator;

/* Spreads the GAN's training over the ranks of `communicator` (copied; NULL: this process alone, the default).
 * Each rank is then given the whole batch and the same random stream and computes on its slice of the batch
 * (rank r: rows r*B/size ..< (r+1)*B/size, after packing): batch norm over the whole batch, losses over the
 * gathered critic values, gradients summed in one all-reduce per update. Ranks that start from the same state
 * stay in the same state. Fails with SG_INVALID_ARGUMENT (nothing changed) for a rank outside [0, size), a size
 * below 1 or a missing function. */
sg_status sg_gan_set_communicator(sg_handle *gan, const sg_communicator *communicator);

/* The trainer's scalar state by name, as "name=value\n" lines (NUL-terminated, into buffer of capacity
 * bytes; *needed receives the size required including the NUL): iteration, optimizer_D.steps,
 * optimizer_G.steps, rng.0 to rng.3 (the random stream), began.k, began.lr_factor, began.best_m_global,
 * began.since_best. Numbers are written so that they read back exactly (floats in their shortest exact
 * form, inf included). sg_gan_scalars_write restores any of them from such lines; an unknown name or a bad
 * value fails with SG_INVALID_ARGUMENT and changes nothing. */
sg_status sg_gan_scalars_read(sg_handle *gan, char *buffer, int64_t capacity, int64_t *needed);
sg_status sg_gan_scalars_write(sg_handle *gan, const char *text);

/* Profiling (also switched on by SWIFTGAN_PROFILE=1 in the environment): while enabled, every call
 * into the core adds its duration to a process-wide total, and each kernel kind its own. sg_profile_read
 * writes "name\tseconds\n" lines (the kernel kinds, then other_core: the calls' time outside the kernels,
 * then core: the calls' total) like sg_catalogue; sg_profile_reset zeroes them. */
void sg_profile_set_enabled(int32_t on);
sg_status sg_profile_read(char *buffer, int64_t capacity, int64_t *needed);
void sg_profile_reset(void);

/* The branch log, for tests that compare two runs up to rounding: sg_branch_log_set_enabled(1) starts a fresh
 * log on the calling thread (0 stops it); sg_branch_log_read writes one line per call of a kinked kernel (ReLU,
 * leaky ReLU, ELU, abs, clamp, batch norm fused with an activation) made from this thread since:
 * "elements\tbranch_sum\tmargin" (how many elements it decided, the sum of their branch numbers, and its
 * nearest input to a kink in units of its inputs' RMS), like sg_catalogue; SG_ERROR when no log is on. */
void sg_branch_log_set_enabled(int32_t on);
sg_status sg_branch_log_read(char *buffer, int64_t capacity, int64_t *needed);

/* The catalogue: "name\tdescription\n" lines of every loss (`what` 0), penalty suffix (1)
 * or architecture (2), NUL-terminated, into buffer (capacity bytes); *needed receives the
 * size required including the NUL. Fails with SG_INVALID_ARGUMENT when capacity is too small. */
sg_status sg_catalogue(int32_t what, char *buffer, int64_t capacity, int64_t *needed);

/* ---- Feature networks (the feature space of the sample-quality metrics) ----------------------------------
 *
 * A small CNN classifier trained by the core on labelled images; its spatially averaged last activations are
 * the features FID, KID and precision/recall compare. Handles follow the GAN's conventions (tokens, a lock,
 * SG_INVALID_ARGUMENT for a freed or other-kind handle, including a GAN handle). */

/* Creates a network from "key=value" lines (sg_features_options describes them); *out receives a handle the
 * caller frees with sg_handle_free. Its configuration (sg_handle_config) ends with "features=F", the feature
 * width. Its tensor sets: SG_TENSORS_MODEL and SG_TENSORS_FULL (the parameters, then batch-norm buffers). */
sg_status sg_features_create(const char *config, sg_handle **out);
/* The feature network's option table, in sg_options' format. */
sg_status sg_features_options(char *buffer, int64_t capacity, int64_t *needed);
/* One Adam step on images [N, C, S, S] (N >= 2) with one class index per image (label_count = N); stats (NULL
 * or 2 doubles) receives the batch's mean cross-entropy and accuracy before the step. A non-finite loss or
 * gradient gives SG_DIVERGED and changes nothing. */
sg_status sg_features_train_step(sg_handle *net, const sg_array *images, const int32_t *labels, int64_t label_count,
                                 double *stats);
/* Features [N, F] (logits == 0) or class logits [N, classes] (logits != 0) of images [N, C, S, S] (N >= 0), in evaluation
 * mode, into out (out_count floats, which must be N × F or N × classes). */
sg_status sg_features_evaluate(sg_handle *net, const sg_array *images, int32_t logits, float *out, int64_t out_count);

/* ---- Sample-quality metrics (double precision) ----------------------------------------------------------
 *
 * Between feature sets given as row-major doubles [count, width] (count >= 2, finite values): FID, KID's
 * per-subset unbiased MMD² with the cubic kernel (x·y/width + 1)³, and improved precision/recall on k-NN manifolds. */

/* The mean [width] and covariance [width, width] (normalised by count − 1) of features [count, width]. */
sg_status sg_metrics_statistics(const double *features, int64_t count, int64_t width, double *mean, double *covariance);
/* The Fréchet distance between N(mean1, covariance1) and N(mean2, covariance2) (means of D values, covariances of
 * D × D, each buffer with its count, which the core checks agree; Tr √(Σ₁Σ₂) from the eigenvalues of √Σ₁ Σ₂ √Σ₁;
 * epsilon added to both diagonals and tried again when that is not finite) into *out. */
sg_status sg_metrics_frechet(const double *mean1, int64_t mean1_count, const double *covariance1,
                             int64_t covariance1_count, const double *mean2, int64_t mean2_count,
                             const double *covariance2, int64_t covariance2_count, double epsilon, double *out);
/* FID between real [real_count, real_width] and fake [fake_count, fake_width] (epsilon 1e-6) into *out; the widths
 * must agree. */
sg_status sg_metrics_fid(const double *real, int64_t real_count, int64_t real_width, const double *fake,
                         int64_t fake_count, int64_t fake_width, double *out);
/* The unbiased MMD² of each of `subsets` subsets into out[subsets]: subset s holds rows real_index[s·m ..< (s+1)·m]
 * of real and fake_index[...] of fake (m = subset_size >= 2; indices in range; the widths agree). */
sg_status sg_metrics_kernel_distances(const double *real, int64_t real_count, int64_t real_width, const double *fake,
                                      int64_t fake_count, int64_t fake_width, const int64_t *real_index,
                                      const int64_t *fake_index, int64_t subsets, int64_t subset_size, double *out);
/* Precision (out[0]: the share of fake rows within the k-th-neighbour radius of some real row) and recall (out[1]:
 * the converse); 1 <= k < min(real_count, fake_count); the widths agree. */
sg_status sg_metrics_precision_recall(const double *real, int64_t real_count, int64_t real_width, const double *fake,
                                      int64_t fake_count, int64_t fake_width, int32_t k, double *out);

#ifdef __cplusplus
}
#endif
#endif
