#include "kiln_jpeg.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
#include <jerror.h>

struct kiln_error_manager {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
};

struct kiln_jpeg_decoder {
    struct jpeg_decompress_struct cinfo;
    struct kiln_error_manager error;
    struct jpeg_source_mgr source;
    const unsigned char *data;
    size_t size;
};

static void kiln_error_exit(j_common_ptr cinfo) {
    struct kiln_error_manager *error = (struct kiln_error_manager *)cinfo->err;
    longjmp(error->jump, 1);
}

// Warnings (e.g. extraneous bytes before a marker) are ignored, as PIL ignores them.
static void kiln_output_message(j_common_ptr cinfo) { (void)cinfo; }

static void kiln_init_source(j_decompress_ptr cinfo) { (void)cinfo; }
static void kiln_term_source(j_decompress_ptr cinfo) { (void)cinfo; }

// The whole file is in the buffer from the start: asking for more means it was cut short.
static boolean kiln_fill_input_buffer(j_decompress_ptr cinfo) {
    ERREXIT(cinfo, JERR_INPUT_EOF);
    return FALSE;
}

static void kiln_skip_input_data(j_decompress_ptr cinfo, long count) {
    struct jpeg_source_mgr *source = cinfo->src;
    if (count <= 0) return;
    if ((size_t)count > source->bytes_in_buffer) ERREXIT(cinfo, JERR_INPUT_EOF);
    source->next_input_byte += count;
    source->bytes_in_buffer -= (size_t)count;
}

static void kiln_message(j_common_ptr cinfo, char *message, size_t message_size) {
    char buffer[JMSG_LENGTH_MAX];
    if (message == NULL || message_size == 0) return;
    buffer[0] = 0;
    (*cinfo->err->format_message)(cinfo, buffer);
    snprintf(message, message_size, "%s", buffer);
}

kiln_jpeg_decoder *kiln_jpeg_open(const unsigned char *data, size_t size, kiln_jpeg_info *info,
                                  char *message, size_t message_size) {
    kiln_jpeg_decoder *volatile decoder = calloc(1, sizeof(kiln_jpeg_decoder));
    if (decoder == NULL) {
        snprintf(message, message_size, "out of memory");
        return NULL;
    }
    decoder->data = data;
    decoder->size = size;
    decoder->cinfo.err = jpeg_std_error(&decoder->error.pub);
    decoder->error.pub.error_exit = kiln_error_exit;
    decoder->error.pub.output_message = kiln_output_message;
    if (setjmp(decoder->error.jump)) {
        kiln_message((j_common_ptr)&decoder->cinfo, message, message_size);
        jpeg_destroy_decompress(&decoder->cinfo);
        free(decoder);
        return NULL;
    }
    jpeg_create_decompress(&decoder->cinfo);
    decoder->source.init_source = kiln_init_source;
    decoder->source.fill_input_buffer = kiln_fill_input_buffer;
    decoder->source.skip_input_data = kiln_skip_input_data;
    decoder->source.resync_to_restart = jpeg_resync_to_restart;
    decoder->source.term_source = kiln_term_source;
    decoder->source.next_input_byte = data;
    decoder->source.bytes_in_buffer = size;
    decoder->cinfo.src = &decoder->source;
    jpeg_read_header(&decoder->cinfo, TRUE);
    info->width = decoder->cinfo.image_width;
    info->height = decoder->cinfo.image_height;
    info->components = decoder->cinfo.num_components;
    info->precision = decoder->cinfo.data_precision;
    return decoder;
}

int kiln_jpeg_decode(kiln_jpeg_decoder *decoder, unsigned char *out, size_t out_size,
                     char *message, size_t message_size) {
    struct jpeg_decompress_struct *cinfo = &decoder->cinfo;
    if (setjmp(decoder->error.jump)) {
        kiln_message((j_common_ptr)cinfo, message, message_size);
        jpeg_abort_decompress(cinfo);
        return -1;
    }
    switch (cinfo->num_components) {
    case 1: cinfo->out_color_space = JCS_GRAYSCALE; break;
    case 3: cinfo->out_color_space = JCS_RGB; break;
    case 4: cinfo->out_color_space = JCS_CMYK; break;
    default:
        snprintf(message, message_size, "%d colour components (PIL reads 1, 3 or 4)", cinfo->num_components);
        return -1;
    }
    cinfo->dct_method = JDCT_ISLOW;
    cinfo->do_fancy_upsampling = TRUE;
    cinfo->scale_num = 1;
    cinfo->scale_denom = 1;
    jpeg_start_decompress(cinfo);
    size_t row = (size_t)cinfo->output_width * (size_t)cinfo->output_components;
    if (cinfo->output_width != cinfo->image_width || cinfo->output_height != cinfo->image_height ||
        row * cinfo->output_height > out_size) {
        snprintf(message, message_size, "output size does not match the frame header");
        jpeg_abort_decompress(cinfo);
        return -1;
    }
    while (cinfo->output_scanline < cinfo->output_height) {
        JSAMPROW line = out + (size_t)cinfo->output_scanline * row;
        if (jpeg_read_scanlines(cinfo, &line, 1) != 1) {
            snprintf(message, message_size, "decoder stopped before the last scanline");
            jpeg_abort_decompress(cinfo);
            return -1;
        }
    }
    // Every scanline is in; what follows (normally just EOI) is not read.
    jpeg_abort_decompress(cinfo);
    return 0;
}

void kiln_jpeg_close(kiln_jpeg_decoder *decoder) {
    if (decoder == NULL) return;
    jpeg_destroy_decompress(&decoder->cinfo);
    free(decoder);
}
