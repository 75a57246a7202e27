// SPDX-License-Identifier: GPL-2.0
/*
 * Module parameters. The geometry (chunk_kib, window_gib) is fixed at load;
 * the rest are tunables root can change at run time under
 * /sys/module/arena/parameters/, each validated on write. Readers use
 * READ_ONCE(): a tunable changes one word at a time.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kernel.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/moduleparam.h>

#include "arena_priv.h"

static unsigned int chunk_kib = 2048;
module_param(chunk_kib, uint, 0444);
MODULE_PARM_DESC(chunk_kib,
		 "Chunk size in KiB, a power of two from 64 to 2048 (default 2048: one PMD)");

static unsigned int window_gib = 64;
module_param(window_gib, uint, 0444);
MODULE_PARM_DESC(window_gib,
		 "Size of each open file's address-space window in GiB, 1-1024 (default 64)");

unsigned int arena_chunk_shift;
unsigned long arena_window_size;

/* 0 at load means: half of RAM. */
static unsigned long max_mb;
unsigned long arena_max_chunks;

static int max_mb_set(const char *val, const struct kernel_param *kp)
{
	unsigned long mb, ram_mb = totalram_pages() >> (20 - PAGE_SHIFT);
	int err = kstrtoul(val, 0, &mb);

	if (err)
		return err;
	if (!mb)
		mb = ram_mb / 2;
	if (mb > ram_mb)
		return -EINVAL;
	max_mb = mb;
	/* Before load arena_chunk_shift is 0; arena_params_init() redoes it. */
	if (arena_chunk_shift)
		WRITE_ONCE(arena_max_chunks,
			   (mb << 20) >> arena_chunk_shift);
	return 0;
}

static const struct kernel_param_ops max_mb_ops = {
	.set = max_mb_set,
	.get = param_get_ulong,
};
module_param_cb(max_mb, &max_mb_ops, &max_mb, 0644);
MODULE_PARM_DESC(max_mb,
		 "Most memory all arenas and the pool may hold, in MiB (default and 0: half of RAM)");

unsigned int arena_pool_low = 4;
unsigned int arena_pool_high = 32;

static int pool_mark_set(const char *val, const struct kernel_param *kp)
{
	unsigned int v, *mark = kp->arg;
	int err = kstrtouint(val, 0, &v);

	if (err)
		return err;
	if (v > 65536)
		return -EINVAL;
	/* Keep low <= high whichever one is written. */
	if (mark == &arena_pool_low && v > READ_ONCE(arena_pool_high))
		return -EINVAL;
	if (mark == &arena_pool_high && v < READ_ONCE(arena_pool_low))
		return -EINVAL;
	WRITE_ONCE(*mark, v);
	return 0;
}

static const struct kernel_param_ops pool_mark_ops = {
	.set = pool_mark_set,
	.get = param_get_uint,
};
module_param_cb(pool_low, &pool_mark_ops, &arena_pool_low, 0644);
MODULE_PARM_DESC(pool_low,
		 "Ready chunks the pool keeps zeroed in advance once used, raised up to pool_high while demand outruns it; 0: no refill (default 4)");
module_param_cb(pool_high, &pool_mark_ops, &arena_pool_high, 0644);
MODULE_PARM_DESC(pool_high,
		 "Most ready chunks the pool keeps; beyond, freed chunks go back to the page allocator (default 32)");

unsigned int arena_held_warn_ms = 10000;
module_param_named(held_warn_ms, arena_held_warn_ms, uint, 0644);
MODULE_PARM_DESC(held_warn_ms,
		 "Send a netlink event for a chunk held in quarantine longer than this, in ms; 0: never (default 10000)");

unsigned long arena_va_quarantine_mb = 4096;
module_param_named(va_quarantine_mb, arena_va_quarantine_mb, ulong, 0644);
MODULE_PARM_DESC(va_quarantine_mb,
		 "Freed address space per window kept faulting before the oldest is reused, in MiB (default 4096)");

/*
 * Per open file bounds on the kernel memory one process can make the module
 * hold (Documentation/admin-guide/arena.rst). Empty arenas and small-slot
 * maps are refused beyond them (ENOSPC); freed-run records are recycled
 * oldest first, like freed address space beyond va_quarantine_mb.
 */
unsigned int arena_max_empty_arenas = 65536;
module_param_named(max_empty_arenas, arena_max_empty_arenas, uint, 0644);
MODULE_PARM_DESC(max_empty_arenas,
		 "Most arenas without memory one open file may hold; ARENA_IOC_CREATE beyond gets ENOSPC (default 65536)");

unsigned int arena_max_freed_runs = 65536;
module_param_named(max_freed_runs, arena_max_freed_runs, uint, 0644);
MODULE_PARM_DESC(max_freed_runs,
		 "Most freed runs one open file keeps faulting with their arena's report; the oldest is recycled beyond (default 65536)");

unsigned int arena_max_small_slots = 8192;
module_param_named(max_small_slots, arena_max_small_slots, uint, 0644);
MODULE_PARM_DESC(max_small_slots,
		 "Most window slots one open file may cut into small runs (a page map each); beyond, small runs get ENOSPC (default 8192)");

/*
 * Whole chunks one open file keeps, unzeroed, for its next no-zero runs
 * (ARENA_ALLOC_NOZERO); beyond, they go to the pool like any other.
 */
unsigned long arena_nozero_keep_mb = 64;
module_param_named(nozero_keep_mb, arena_nozero_keep_mb, ulong, 0644);
MODULE_PARM_DESC(nozero_keep_mb,
		 "Freed chunks of no-zero arenas one open file keeps for its next ones, unzeroed, in MiB (default 64)");

int arena_params_init(void)
{
	if (chunk_kib < 64 || chunk_kib > 2048 || !is_power_of_2(chunk_kib)) {
		pr_err("chunk_kib=%u: must be a power of two from 64 to 2048\n",
		       chunk_kib);
		return -EINVAL;
	}
	if (!window_gib || window_gib > 1024) {
		pr_err("window_gib=%u out of range 1-1024\n", window_gib);
		return -EINVAL;
	}
	arena_chunk_shift = ilog2(chunk_kib) + 10;
	arena_window_size = (unsigned long)window_gib << 30;
	if (!max_mb)
		max_mb = (totalram_pages() >> (20 - PAGE_SHIFT)) / 2;
	arena_max_chunks = (max_mb << 20) >> arena_chunk_shift;
	if (arena_pool_low > arena_pool_high) {
		pr_err("pool_low=%u above pool_high=%u\n", arena_pool_low,
		       arena_pool_high);
		return -EINVAL;
	}
	return 0;
}
