/*
 * Lifetimes through the C ABI, for AddressSanitizer and LeakSanitizer (python/tests/test_c_abi.py builds the
 * library and this program with -fsanitize=address and runs it): GANs of several losses and architectures are
 * created, trained, sampled, read, written, refused bad calls and freed, CYCLES times over, with a handle
 * freed while unused handles live on. Any invalid access or leaked allocation makes the sanitizer fail it.
 *
 *   ./a.out [CYCLES]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swiftgan.h"

static const char *configs[] = {
    "loss=RaSGAN-GP\narch=dcgan\nimage_size=32\nchannels=1\nz_dim=4\nngf=2\nndf=2\nema_decay=0.5\n",
    "loss=BEGAN\narch=autoencoder\nimage_size=32\nchannels=1\nz_dim=4\nngf=2\nndf=2\nae_code=4\n",
    "loss=WGAN\narch=mlp\nchannels=2\nz_dim=2\nngf=4\nndf=4\n",
    "loss=RaLSGAN-DRAGAN\narch=mlp\nchannels=2\nz_dim=2\nngf=4\nndf=4\nnon_finite=skip\n",
};

static void fail(const char *what) {
    fprintf(stderr, "FAILED: %s (%s)\n", what, sg_last_error());
    exit(1);
}

static void must(sg_status status, const char *what) {
    if (status != SG_OK) fail(what);
}

static void refused(sg_status status, const char *what) {
    if (status != SG_INVALID_ARGUMENT || sg_last_error()[0] == '\0') fail(what);
}

/* One GAN's life: steps, samples, every tensor read and written back, scalars, refused calls. */
static void live(const char *config, int cycle) {
    sg_handle *gan = NULL;
    must(sg_gan_create(config, &gan), "create");
    int64_t needed = 0;
    char small[4];
    refused(sg_handle_config(gan, small, sizeof small, &needed), "config into a short buffer");
    char *text = malloc((size_t)needed);
    must(sg_handle_config(gan, text, needed, &needed), "config");
    int is_mlp = strstr(text, "arch=mlp") != NULL;
    int critics = strstr(text, "n_critic=5") != NULL ? 5 : 1;
    free(text);
    int64_t sample = is_mlp ? 2 : 32 * 32, batch = 4;
    float *real = malloc(sizeof(float) * (size_t)(critics * batch * sample));
    for (int64_t i = 0; i < critics * batch * sample; i++) real[i] = (float)((i * 7 + cycle) % 19) / 9.5f - 1.0f;
    sg_named_array inputs; /* real only: the random inputs are drawn from the GAN's own stream */
    memset(&inputs, 0, sizeof inputs);
    inputs.name = "real";
    inputs.array.values = real;
    inputs.array.count = critics * batch * sample;
    int64_t dims[5] = {critics, batch, 1, 32, 32};
    inputs.array.ndim = is_mlp ? 3 : 5;
    if (is_mlp) dims[2] = 2;
    memcpy(inputs.array.shape, dims, sizeof dims);
    double stats[SG_STAT_COUNT];
    for (int step = 0; step < 2; step++) must(sg_gan_train_step(gan, &inputs, 1, stats, SG_STAT_COUNT), "train step");
    inputs.array.count -= 1;
    refused(sg_gan_train_step(gan, &inputs, 1, stats, SG_STAT_COUNT), "a step whose count disagrees with its shape");

    float *out = malloc(sizeof(float) * (size_t)(3 * sample));
    must(sg_gan_sample(gan, 3, out, 3 * sample), "sample");
    refused(sg_gan_sample(gan, 3, out, 2), "sample into a short buffer");
    int64_t count = 0;
    must(sg_tensor_count(gan, SG_TENSORS_FULL, &count), "tensor count");
    for (int64_t i = 0; i < count; i++) {
        const char *name = NULL;
        int32_t ndim = 0;
        int64_t shape[8];
        must(sg_tensor_info(gan, SG_TENSORS_FULL, i, &name, &ndim, shape), "tensor info");
        int64_t size = 1;
        for (int d = 0; d < ndim; d++) size *= shape[d];
        float *values = malloc(sizeof(float) * (size_t)(size ? size : 1));
        must(sg_tensor_read(gan, SG_TENSORS_FULL, i, values, size), "tensor read");
        sg_array written = {.values = values, .count = size, .ndim = ndim};
        memcpy(written.shape, shape, sizeof(int64_t) * (size_t)ndim);
        must(sg_tensor_write(gan, SG_TENSORS_FULL, 1, &i, &written), "tensor write");
        free(values);
    }
    refused(sg_tensor_read(gan, SG_TENSORS_GRADIENTS, 0, out, 1), "a gradient before retaining them");
    must(sg_gan_set_retain_gradients(gan, 1), "retain gradients");
    inputs.array.count += 1;
    must(sg_gan_train_step(gan, &inputs, 1, stats, 3), "a step keeping gradients");
    refused(sg_gan_scalars_read(gan, NULL, 0, &needed), "scalars size");
    char *scalars = malloc((size_t)needed);
    must(sg_gan_scalars_read(gan, scalars, needed, &needed), "scalars read");
    must(sg_gan_scalars_write(gan, scalars), "scalars write");
    refused(sg_gan_scalars_write(gan, "iteration=x"), "a scalar that is not a number");
    free(scalars);
    free(out);
    free(real);
    must(sg_handle_free(gan), "free");
    refused(sg_handle_free(gan), "a second free");
}

int main(int argc, char **argv) {
    int cycles = argc > 1 ? atoi(argv[1]) : 20;
    sg_handle *idle = NULL;  /* a handle that lives across the cycles, freed at the end */
    must(sg_gan_create(configs[2], &idle), "create the idle GAN");
    for (int cycle = 0; cycle < cycles; cycle++) {
        for (size_t c = 0; c < sizeof configs / sizeof *configs; c++) live(configs[c], cycle);
        sg_handle *none = NULL;
        refused(sg_gan_create("loss=NoSuchGAN", &none), "an unknown loss");
        refused(sg_gan_create("image_size=33", &none), "a size the architecture cannot take");
    }
    int64_t needed = 0;
    refused(sg_catalogue(0, NULL, 0, &needed), "catalogue size");
    char *catalogue = malloc((size_t)needed);
    must(sg_catalogue(0, catalogue, needed, &needed), "catalogue");
    free(catalogue);
    must(sg_handle_free(idle), "free the idle GAN");
    printf("%d cycles of %zu GANs: all checks passed\n", cycles, sizeof configs / sizeof *configs);
    return 0;
}
