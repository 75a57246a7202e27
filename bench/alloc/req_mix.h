/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The request mix of the churn benchmarks (bench/alloc/alloc_bench.c and
 * bench/small_bench.c): a fixed pseudo-random sequence of object sizes,
 * 90% 16-128 bytes, 9% 129-1024, 1% 1025-4096 (about 145 bytes mean).
 * req_seed() restarts it, so every program sees the same requests.
 */
#ifndef BENCH_REQ_MIX_H
#define BENCH_REQ_MIX_H

#include <stddef.h>

static unsigned int req_rng = 12345;

static inline void req_seed(void)
{
	req_rng = 12345;
}

static inline unsigned int req_rnd(void)
{
	req_rng = req_rng * 1103515245 + 12345;
	return req_rng >> 8;
}

static inline size_t req_size(void)
{
	unsigned int r = req_rnd() % 100;

	if (r < 90)
		return 16 + req_rnd() % 113;
	if (r < 99)
		return 129 + req_rnd() % 896;
	return 1025 + req_rnd() % 3072;
}

#endif /* BENCH_REQ_MIX_H */
