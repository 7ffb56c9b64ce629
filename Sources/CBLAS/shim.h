// OpenBLAS's C interface declarations (Debian: libopenblas-dev). Not linked: loaded at run time.
#include <cblas.h>
