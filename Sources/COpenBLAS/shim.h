// Debian's libopenblas-dev installs cblas.h under the multiarch include path.
#include <cblas.h>

// LAPACK's symmetric eigensolver (divide and conquer), in libopenblas too; column-major, Fortran calling convention.
void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w, double *work,
             const int *lwork, int *iwork, const int *liwork, int *info);
