/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The fuzzers' random numbers (arena_fuzz.c, libarena_fuzz.c): splitmix64,
 * small, fast, and good enough to pick operations; seeded, so a run can be
 * replayed.
 */
#ifndef _ARENA_FUZZ_RNG_H
#define _ARENA_FUZZ_RNG_H

#include <stdbool.h>
#include <stdint.h>

struct rng {
	uint64_t s;
};

static inline uint64_t rnd(struct rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform enough below @n (0 for 0). */
static inline uint32_t rn(struct rng *r, uint32_t n)
{
	return n ? rnd(r) % n : 0;
}

static inline bool chance(struct rng *r, unsigned int pct)
{
	return rn(r, 100) < pct;
}

#endif /* _ARENA_FUZZ_RNG_H */
