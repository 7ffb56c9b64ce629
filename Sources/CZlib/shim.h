// zlib (Debian: zlib1g-dev, pulled in by libpng-dev), for gzip-compressed tokenizer files.
#include <zlib.h>
