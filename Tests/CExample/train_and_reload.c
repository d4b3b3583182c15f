/*
 * SwiftGAN from C: builds a RaSGAN, trains a few steps on synthetic data, saves its whole state
 * (every tensor, and the trainer's scalars by name) to a file, reloads it into a new GAN, checks that both then take the same
 * step, samples, and checks that wrong arguments give a status and a message, never a crash.
 *
 *   cc -I Sources/SwiftGANC Tests/CExample/train_and_reload.c -L DIR -lswiftgan -Wl,-rpath,DIR -lm
 *   ./a.out STATE_FILE
 *
 * Prints one line per check and "all checks passed" at the end; exits 1 at the first failure.
 * python/tests/test_c_abi.py builds and runs it.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swiftgan.h"

static const char *config = "loss=RaSGAN\narch=dcgan\nimage_size=32\nchannels=1\nz_dim=8\nngf=8\nndf=8\nseed=3\n";
enum { BATCH = 4, SAMPLE = 32 * 32, Z_DIM = 8 };

static void fail(const char *what) {
    fprintf(stderr, "FAILED: %s (%s)\n", what, sg_last_error());
    exit(1);
}

static void check(sg_status status, const char *what) {
    if (status != SG_OK) fail(what);
    printf("ok: %s\n", what);
}

/* The status must be SG_INVALID_ARGUMENT and the message must contain `needle`. */
static void expect_error(sg_status status, const char *needle, const char *what) {
    if (status != SG_INVALID_ARGUMENT || strstr(sg_last_error(), needle) == NULL) {
        fprintf(stderr, "FAILED: %s: status %d, message '%s', expected '%s'\n", what, status, sg_last_error(), needle);
        exit(1);
    }
    printf("ok: %s -> \"%s\"\n", what, sg_last_error());
}

static sg_array array(const float *values, int32_t ndim, const int64_t *shape) {
    sg_array a = {values, 1, ndim, {0}};
    for (int i = 0; i < ndim; i++) {
        a.shape[i] = shape[i];
        a.count *= shape[i];
    }
    return a;
}

/* A batch of smooth synthetic images in [-1, 1] that changes with `step`. */
static void synthetic_batch(float *real, int step) {
    for (int b = 0; b < BATCH; b++)
        for (int i = 0; i < SAMPLE; i++) real[b * SAMPLE + i] = sinf(0.1f * (float)(i + 7 * b + 13 * step));
}

static int train(sg_handle *gan, int step, double *stats) {
    static float real[BATCH * SAMPLE];
    synthetic_batch(real, step);
    const int64_t shape[4] = {BATCH, 1, 32, 32};
    sg_named_array inputs = {"real", array(real, 4, shape)}; /* random inputs not given: drawn from the GAN's stream */
    return sg_gan_train_step(gan, &inputs, 1, stats, SG_STAT_COUNT);
}

/* Tensor i of SG_TENSORS_FULL as an array of `values` (its name, rank and shape from the handle). */
static sg_array full_tensor(sg_handle *gan, int64_t i, const float *values, const char **name) {
    int32_t ndim;
    int64_t shape[SG_MAX_DIMS];
    if (sg_tensor_info(gan, SG_TENSORS_FULL, i, name, &ndim, shape) != SG_OK) fail("tensor_info");
    return array(values, ndim, shape);
}

/* Writes every tensor of SG_TENSORS_FULL (count, then values) and the counters to `path`. */
static void save(sg_handle *gan, const char *path) {
    FILE *f = fopen(path, "wb");
    if (!f) fail("opening the state file for writing");
    int64_t count;
    check(sg_tensor_count(gan, SG_TENSORS_FULL, &count), "counting the state's tensors");
    for (int64_t i = 0; i < count; i++) {
        const char *name;
        int64_t size = full_tensor(gan, i, NULL, &name).count;
        float *values = malloc((size_t)size * sizeof(float));
        if (!values) fail("allocating a tensor's buffer");
        if (sg_tensor_read(gan, SG_TENSORS_FULL, i, values, size) != SG_OK) fail(name);
        fwrite(&size, sizeof size, 1, f);
        fwrite(values, sizeof(float), (size_t)size, f);
        free(values);
    }
    int64_t needed = 0;
    sg_gan_scalars_read(gan, NULL, 0, &needed); /* fails, reporting the size needed */
    char *scalars = malloc((size_t)needed);
    if (!scalars) fail("allocating the scalars' text");
    check(sg_gan_scalars_read(gan, scalars, needed, &needed), "reading the trainer's scalars by name");
    fwrite(&needed, sizeof needed, 1, f);
    fwrite(scalars, 1, (size_t)needed, f);
    fclose(f);
    printf("ok: saved %lld tensors and the scalars:\n%s", (long long)count, scalars);
    free(scalars);
}

/* Restores what `save` wrote into a GAN of the same configuration (all of a tensor checked by the core first). */
static void load(sg_handle *gan, const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) fail("opening the state file for reading");
    int64_t count;
    check(sg_tensor_count(gan, SG_TENSORS_FULL, &count), "counting the new GAN's tensors");
    for (int64_t i = 0; i < count; i++) {
        int64_t size;
        if (fread(&size, sizeof size, 1, f) != 1) fail("reading a tensor's size");
        float *values = malloc((size_t)size * sizeof(float));
        if (!values) fail("allocating a tensor's buffer");
        if (fread(values, sizeof(float), (size_t)size, f) != (size_t)size) fail("reading a tensor");
        const char *name;
        sg_array given = full_tensor(gan, i, values, &name);
        if (given.count != size || sg_tensor_write(gan, SG_TENSORS_FULL, 1, &i, &given) != SG_OK) fail("tensor_write");
        free(values);
    }
    int64_t size;
    if (fread(&size, sizeof size, 1, f) != 1 || size < 1) fail("reading the scalars' size");
    char *scalars = malloc((size_t)size);
    if (!scalars) fail("allocating the scalars' text");
    if (fread(scalars, 1, (size_t)size, f) != (size_t)size || scalars[size - 1] != '\0') fail("reading the scalars");
    check(sg_gan_scalars_write(gan, scalars), "restoring the trainer's scalars by name");
    free(scalars);
    fclose(f);
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "swiftgan_state.bin";
    if (sg_abi_version() != SG_ABI_VERSION) {
        fprintf(stderr, "FAILED: the library's ABI is %d, this program's %d\n", sg_abi_version(), SG_ABI_VERSION);
        return 1;
    }
    sg_handle *gan = NULL;
    check(sg_gan_create(config, &gan), "creating a RaSGAN");
    double stats[SG_STAT_COUNT];
    for (int step = 0; step < 3; step++) {
        check(train(gan, step, stats), "a training step");
        if (!isfinite(stats[SG_STAT_D_LOSS]) || !isfinite(stats[SG_STAT_G_LOSS])) fail("finite losses");
        printf("   step %d: loss D %.4f, loss G %.4f\n", step, stats[SG_STAT_D_LOSS], stats[SG_STAT_G_LOSS]);
    }
    save(gan, path);

    sg_handle *again = NULL;
    check(sg_gan_create(config, &again), "creating a second RaSGAN");
    load(again, path);
    double a[SG_STAT_COUNT], b[SG_STAT_COUNT];
    check(train(gan, 3, a), "step 4 of the first GAN");
    check(train(again, 3, b), "step 4 of the reloaded GAN");
    if (memcmp(a, b, sizeof a) != 0) fail("the reloaded GAN takes the same step");
    printf("ok: the reloaded GAN takes the same step (loss D %.6f, loss G %.6f)\n", b[SG_STAT_D_LOSS], b[SG_STAT_G_LOSS]);

    float samples[2 * SAMPLE];
    check(sg_gan_sample(again, 2, samples, 2 * SAMPLE), "sampling 2 images");
    for (int i = 0; i < 2 * SAMPLE; i++)
        if (!(samples[i] >= -1 && samples[i] <= 1)) fail("samples in [-1, 1] (tanh)");

    /* The error path: a status and a message, nothing changed, no crash. */
    expect_error(sg_gan_sample(again, 2, samples, SAMPLE), "out must hold 2 × 1024 = 2048 floats", "sample into too small a buffer");
    expect_error(sg_gan_sample(again, 2, NULL, 2 * SAMPLE), "out is NULL", "sample into NULL");
    expect_error(sg_gan_sample(NULL, 2, samples, 2 * SAMPLE), "handle is NULL", "sample with a NULL handle");
    const int64_t zshape[2] = {2, Z_DIM + 1};
    float z[2 * (Z_DIM + 1)] = {0};
    sg_array latents = array(z, 2, zshape);
    expect_error(sg_gan_generate(again, &latents, samples, 2 * SAMPLE), "z must have shape [N, 8], got [2, 9]",
                 "generate from latents of the wrong width");
    latents.count = 3;
    expect_error(sg_gan_generate(again, &latents, samples, 2 * SAMPLE), "count must be the product of shape",
                 "an array whose count does not match its shape");
    expect_error(sg_gan_train_step(again, NULL, 1, NULL, 0), "inputs is NULL", "a step without inputs");
    expect_error(sg_gan_train_step(again, NULL, 0, NULL, 0), "real is required", "a step without real data");
    const int64_t bad[4] = {BATCH, 3, 32, 32};
    static float real[BATCH * 3 * SAMPLE];
    sg_named_array inputs[2] = {{"real", array(real, 4, bad)}, {"dragan_noise", array(real, 4, bad)}};
    expect_error(sg_gan_train_step(again, inputs, 2, NULL, 0), "dragan_noise is not an input of loss RaSGAN",
                 "an input the loss does not take");
    expect_error(sg_gan_train_step(again, inputs, 1, NULL, 0), "real must have shape [N, 1, 32, 32], got [4, 3, 32, 32]",
                 "real data of the wrong shape");
    char small[8];
    int64_t needed = 0;
    expect_error(sg_gan_scalars_read(again, small, sizeof small, &needed), "buffer too small", "scalars into a short buffer");
    expect_error(sg_gan_scalars_write(again, "iteration=3\nsteps=2\n"), "unknown trainer scalar 'steps'",
                 "an unknown scalar (nothing restored)");
    expect_error(sg_gan_scalars_write(again, "began.k=fast"), "began.k must be a number", "a scalar that is not a number");
    expect_error(sg_tensor_read(again, SG_TENSORS_FULL, 0, samples, 1), "count must be", "a tensor into a wrong count");
    expect_error(sg_tensor_read(again, SG_TENSORS_FULL, 1 << 30, samples, 1), "index must be in", "a tensor index out of range");
    sg_handle *none = NULL;
    expect_error(sg_gan_create("loss=NoSuchGAN", &none), "NoSuchGAN", "an unknown loss");
    if (none != NULL) fail("no handle after a failed create");
    check(train(again, 4, b), "a step after the refused calls");

    check(sg_handle_free(gan), "free");
    expect_error(sg_handle_free(gan), "is not a live handle", "a second free of one handle");
    expect_error(sg_gan_sample(gan, 2, samples, 2 * SAMPLE), "is not a live GAN handle", "a call on a freed handle");
    float not_a_gan[64] = {0};
    expect_error(sg_gan_sample((sg_handle *)not_a_gan, 2, samples, 2 * SAMPLE), "is not a live GAN handle",
                 "a pointer of another kind as a handle");
    expect_error(sg_handle_free((sg_handle *)not_a_gan), "is not a live handle", "a pointer never made by a create freed");
    check(sg_handle_free(again), "free");
    check(sg_handle_free(NULL), "free of NULL");
    remove(path);
    printf("all checks passed\n");
    return 0;
}
