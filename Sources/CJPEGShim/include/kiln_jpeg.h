// JPEG decoding through libjpeg-turbo with its errors returned instead of exit(): libjpeg reports
// errors by calling error_exit, which must not return, so this C file catches them with
// setjmp/longjmp (which Swift cannot do) and hands back a status and a message.
#ifndef KILN_JPEG_H
#define KILN_JPEG_H

#include <stddef.h>

typedef struct kiln_jpeg_decoder kiln_jpeg_decoder;

/// What the frame header declares; read before any pixel memory is allocated.
typedef struct {
    unsigned int width;
    unsigned int height;
    int components;   /// 1 (gray), 3 (YCbCr or RGB) or 4 (CMYK or YCCK) in the file
    int precision;    /// bits per sample; only 8 is decoded, as PIL
} kiln_jpeg_info;

/// Reads the markers up to the first scan of `data` (which must outlive the decoder). Returns NULL
/// and writes a one-line reason into `message` when the data is not a readable JPEG.
kiln_jpeg_decoder *kiln_jpeg_open(const unsigned char *data, size_t size, kiln_jpeg_info *info,
                                  char *message, size_t message_size);

/// Decodes every scanline into `out` (height rows of width * channels bytes), as PIL's JPEG
/// decoder does: JDCT_ISLOW, fancy upsampling, output gray (1 component), RGB (3) or CMYK (4, as
/// libjpeg writes it, not inverted). Returns 0 on success; otherwise -1 with `message` filled.
/// Data that ends before the last scanline is an error (PIL: "image file is truncated").
int kiln_jpeg_decode(kiln_jpeg_decoder *decoder, unsigned char *out, size_t out_size,
                     char *message, size_t message_size);

/// Frees the decoder (NULL is allowed).
void kiln_jpeg_close(kiln_jpeg_decoder *decoder);

#endif
