// The GNU OpenMP runtime (libgomp) that oneDNN and OpenBLAS's OpenMP build run their threads on.
// Declared here rather than through omp.h, which ships with GCC and is not on clang's path.
// GOMP_parallel is libgomp's entry point for `#pragma omp parallel`: it runs fn(data) on every
// thread of a team of num_threads (0: the calling thread's nthreads setting) and returns when all are done.
void GOMP_parallel(void (*fn)(void *), void *data, unsigned num_threads, unsigned flags);
int omp_get_thread_num(void);
int omp_get_num_threads(void);
int omp_get_max_threads(void);
void omp_set_num_threads(int threads);
int omp_get_num_procs(void);
