// Debian's libdnnl-dev (oneDNN 2.x, C API, GNU OpenMP threads).
#include <oneapi/dnnl/dnnl.h>
