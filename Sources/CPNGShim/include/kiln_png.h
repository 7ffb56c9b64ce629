// PNG decoding through libpng's full API with its errors returned: libpng reports errors with
// longjmp, which Swift cannot catch, so this C file sets the jump and hands back a status and a
// message. Samples come out raw (no gamma, no 16->8 reduction), so the Swift side can convert
// them exactly as PIL does.
#ifndef KILN_PNG_H
#define KILN_PNG_H

#include <stddef.h>

typedef struct kiln_png_decoder kiln_png_decoder;

/// What IHDR declares, plus the palette for colour type 3; read before any pixel memory is
/// allocated.
typedef struct {
    unsigned int width;
    unsigned int height;
    int bit_depth;       /// 1, 2, 4, 8 or 16
    int color_type;      /// 0 gray, 2 RGB, 3 palette, 4 gray+alpha, 6 RGBA
    int channels;        /// samples per pixel: 1, 3, 1, 2, 4
    int palette_count;   /// entries in PLTE (0 when absent)
    unsigned char palette[256 * 3];
} kiln_png_info;

/// Reads the chunks up to the first IDAT of `data` (which must outlive the decoder). Returns NULL
/// and writes a one-line reason into `message` when the data is not a readable PNG.
kiln_png_decoder *kiln_png_open(const unsigned char *data, size_t size, kiln_png_info *info,
                                char *message, size_t message_size);

/// Decodes the image (de-interlaced) into `out`: height rows of width * channels samples; samples
/// of 1, 2 or 4 bits are unpacked to one byte each without scaling, 16-bit samples are two bytes,
/// big-endian. Returns 0 on success; otherwise -1 with `message` filled (e.g. truncated data).
int kiln_png_decode(kiln_png_decoder *decoder, unsigned char *out, size_t out_size,
                    char *message, size_t message_size);

/// Frees the decoder (NULL is allowed).
void kiln_png_close(kiln_png_decoder *decoder);

#endif
