// SPDX-License-Identifier: GPL-2.0
/*
 * Chunks: one PMD-order compound page (a folio) each.
 *
 * A chunk is zero before any process sees it: __GFP_ZERO costs nothing extra
 * where the kernel already clears on allocation (Debian boots with
 * init_on_alloc=1, and want_init_on_alloc() folds both into one clear).
 *
 * The module holds one reference on each chunk it owns. Mappings hold their
 * own references (taken in the fault handler and dropped by the zap), and so
 * do GUP pins, so releasing the module's reference after the chunk has been
 * unmapped frees the pages only once nothing else uses them: a pinned chunk
 * stays allocated, with its bytes intact, until the pin is dropped.
 */
#include <linux/gfp.h>
#include <linux/mm.h>

#include "arena_priv.h"

/*
 * GFP_HIGHUSER: user pages, may be highmem, not movable (nothing here can
 * migrate them). __GFP_RETRY_MAYFAIL lets compaction work for the 2 MiB block
 * but gives up with ENOMEM instead of invoking the OOM killer.
 */
#define ARENA_CHUNK_GFP \
	(GFP_HIGHUSER | __GFP_ZERO | __GFP_NOWARN | __GFP_RETRY_MAYFAIL)

struct folio *arena_chunk_alloc(void)
{
	struct folio *folio;

	folio = folio_alloc(ARENA_CHUNK_GFP, ARENA_CHUNK_ORDER);
	if (!folio)
		return NULL;
	atomic_long_inc(&arena_stats.chunks_in_use);
	return folio;
}

/* Drop the module's reference; the caller has unmapped the chunk. */
void arena_chunk_release(struct folio *folio)
{
	atomic_long_dec(&arena_stats.chunks_in_use);
	folio_put(folio);
}
