#include "kiln_png.h"

#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct kiln_png_decoder {
    png_structp png;
    png_infop info;
    const unsigned char *data;
    size_t size;
    size_t offset;
    char message[200];
};

static void kiln_png_error(png_structp png, png_const_charp text) {
    kiln_png_decoder *decoder = (kiln_png_decoder *)png_get_error_ptr(png);
    snprintf(decoder->message, sizeof decoder->message, "%s", text ? text : "libpng error");
    png_longjmp(png, 1);
}

// Warnings (e.g. an unknown or damaged ancillary chunk, which libpng skips) are ignored.
static void kiln_png_warning(png_structp png, png_const_charp text) { (void)png; (void)text; }

static void kiln_png_read(png_structp png, png_bytep out, size_t count) {
    kiln_png_decoder *decoder = (kiln_png_decoder *)png_get_io_ptr(png);
    if (count > decoder->size - decoder->offset) png_error(png, "file ends early (truncated)");
    memcpy(out, decoder->data + decoder->offset, count);
    decoder->offset += count;
}

kiln_png_decoder *kiln_png_open(const unsigned char *data, size_t size, kiln_png_info *info,
                                char *message, size_t message_size) {
    kiln_png_decoder *volatile decoder = calloc(1, sizeof(kiln_png_decoder));
    if (decoder == NULL) {
        snprintf(message, message_size, "out of memory");
        return NULL;
    }
    decoder->data = data;
    decoder->size = size;
    decoder->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, decoder, kiln_png_error, kiln_png_warning);
    if (decoder->png == NULL) {
        snprintf(message, message_size, "cannot start libpng");
        free(decoder);
        return NULL;
    }
    decoder->info = png_create_info_struct(decoder->png);
    if (decoder->info == NULL || setjmp(png_jmpbuf(decoder->png))) {
        snprintf(message, message_size, "%s", decoder->message[0] ? decoder->message : "cannot start libpng");
        png_destroy_read_struct(&decoder->png, &decoder->info, NULL);
        free(decoder);
        return NULL;
    }
    png_set_read_fn(decoder->png, decoder, kiln_png_read);
    png_read_info(decoder->png, decoder->info);
    memset(info, 0, sizeof *info);
    info->width = png_get_image_width(decoder->png, decoder->info);
    info->height = png_get_image_height(decoder->png, decoder->info);
    info->bit_depth = png_get_bit_depth(decoder->png, decoder->info);
    info->color_type = png_get_color_type(decoder->png, decoder->info);
    info->channels = png_get_channels(decoder->png, decoder->info);
    png_colorp palette = NULL;
    int count = 0;
    if (png_get_PLTE(decoder->png, decoder->info, &palette, &count) == PNG_INFO_PLTE && palette != NULL) {
        if (count > 256) count = 256;
        for (int i = 0; i < count; i++) {
            info->palette[3 * i] = palette[i].red;
            info->palette[3 * i + 1] = palette[i].green;
            info->palette[3 * i + 2] = palette[i].blue;
        }
        info->palette_count = count;
    }
    return decoder;
}

int kiln_png_decode(kiln_png_decoder *decoder, unsigned char *out, size_t out_size,
                    char *message, size_t message_size) {
    png_bytep *volatile rows = NULL;
    if (setjmp(png_jmpbuf(decoder->png))) {
        snprintf(message, message_size, "%s", decoder->message[0] ? decoder->message : "libpng error");
        free(rows);
        return -1;
    }
    png_uint_32 width = png_get_image_width(decoder->png, decoder->info);
    png_uint_32 height = png_get_image_height(decoder->png, decoder->info);
    int bit_depth = png_get_bit_depth(decoder->png, decoder->info);
    if (bit_depth < 8) png_set_packing(decoder->png);  // one byte per sample, values unscaled
    png_set_interlace_handling(decoder->png);
    png_read_update_info(decoder->png, decoder->info);
    size_t row_bytes = png_get_rowbytes(decoder->png, decoder->info);
    size_t expected = (size_t)width * (size_t)png_get_channels(decoder->png, decoder->info) * (bit_depth == 16 ? 2 : 1);
    if (row_bytes != expected || row_bytes * height > out_size) {
        snprintf(message, message_size, "row size %zu does not match the header", row_bytes);
        return -1;
    }
    rows = malloc(sizeof(png_bytep) * (height ? height : 1));
    if (rows == NULL) {
        snprintf(message, message_size, "out of memory");
        return -1;
    }
    for (png_uint_32 y = 0; y < height; y++) rows[y] = out + (size_t)y * row_bytes;
    png_read_image(decoder->png, rows);
    free(rows);
    return 0;
}

void kiln_png_close(kiln_png_decoder *decoder) {
    if (decoder == NULL) return;
    png_destroy_read_struct(&decoder->png, &decoder->info, NULL);
    free(decoder);
}
