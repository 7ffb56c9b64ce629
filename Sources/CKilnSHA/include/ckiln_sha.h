// CKilnSHA: SHA-256's block compression with the x86 SHA extensions, for KilnBasics' SHA256.
#ifndef CKILN_SHA_H
#define CKILN_SHA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// 1 when the CPU has the SHA extensions (and SSSE3, SSE4.1) that kiln_sha256_blocks_ni uses.
int kiln_cpu_has_sha(void);
/// SHA-256's compression function over `blocks` whole 64-byte blocks of `data`, into `state`
/// (FIPS 180-4's a..h in order). Only call it when kiln_cpu_has_sha() (it traps otherwise).
void kiln_sha256_blocks_ni(uint32_t state[8], const uint8_t *data, size_t blocks);

#ifdef __cplusplus
}
#endif

#endif
