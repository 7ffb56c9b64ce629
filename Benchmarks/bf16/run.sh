#!/bin/sh
# oneDNN's bf16 and f32 matmul at KilnGEMMBenchmark's shapes, on 1 and 2 threads (issue 8's choice
# between oneDNN and Kiln's own bf16 kernel). oneDNN is only used here, never by the Swift package.
# Usage: Benchmarks/bf16/run.sh [samples]   (run on an idle machine)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if [ ! -e /usr/include/oneapi/dnnl/dnnl.h ] && [ ! -e /usr/include/dnnl.h ]; then
    apt-get install -y libdnnl-dev
fi
out=${TMPDIR:-/tmp}/kiln-onednn-matmul
gcc -O2 -Wall -o "$out" "$here/onednn_matmul.c" -ldnnl
for threads in 1 2; do
    OMP_NUM_THREADS=$threads OMP_PROC_BIND=close "$out" "${1:-7}"
done
