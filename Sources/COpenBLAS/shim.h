// Debian's libopenblas-dev installs cblas.h under the multiarch include path.
#include <cblas.h>
