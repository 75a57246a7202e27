/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Internal interface between the files that make up one open file's
 * window (window.c: the pseudo filesystem, mmap and the fault handler;
 * slots.c: the window's slots and their recycling; small.c: small runs;
 * arenas.c: arenas, their runs and revocation). The rest of the module sees
 * only what arena_priv.h declares.
 */
#ifndef _ARENA_SPACE_H
#define _ARENA_SPACE_H

#include "arena_priv.h"

/* slots.c: called under the space's lock unless said otherwise */
struct arena_run *arena_run_at(struct arena_space *space, unsigned long pgoff);
struct page *arena_run_page(const struct arena_run *run, unsigned long pgoff);
void arena_sslot_free(struct arena_space *space, struct arena_sslot *ss);
bool arena_recycle_oldest(struct arena_space *space);
int arena_slots_take(struct arena_space *space, unsigned int nr,
		     unsigned long *start);
int arena_sslot_reserve(struct arena_space *space, unsigned int nr);
unsigned long arena_va_budget_pages(void);

/* small.c */
void arena_carve_put(struct arena_space *space, struct arena_chunk *c);
void arena_carve_drop(struct arena_space *space, bool nozero);
bool arena_carve_drop_idle(struct arena_space *space);
int arena_small_run(struct arena_space *space, struct arena_run *run);
void arena_small_run_live(struct arena_space *space, struct arena_run *run);

/* arenas.c */
struct arena_chunk *arena_get_chunk(struct arena_space *space, bool small);
struct arena_chunk *arena_own_take(struct arena_space *space, bool small);
bool arena_own_keep(struct arena_space *space, struct arena_chunk *c);
void arena_space_empty(struct arena_space *space);

/* window.c */
void arena_small_run_map(struct arena_space *space, struct arena_run *run);

#endif /* _ARENA_SPACE_H */
