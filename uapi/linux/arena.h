/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * Kernel-backed arena memory: the /dev/arena ioctl ABI.
 *
 * Copyright (C) 2026 The arena authors
 */
#ifndef _UAPI_LINUX_ARENA_H
#define _UAPI_LINUX_ARENA_H

#include <linux/const.h>
#include <linux/types.h>
#include <linux/ioctl.h>

/**
 * DOC: General ioctl format
 *
 * Each open file of /dev/arena owns one address-space window in two parts.
 * The process that opened the file maps the chunk window once with
 * ``mmap(base, out_window_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)``
 * (``base`` aligned to out_chunk_size) and, with ARENA_FEATURE_SMALL_WINDOW,
 * the small window right after it with
 * ``mmap(base + out_window_size, out_small_window_size, PROT_READ |
 * PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, out_window_size)``, and then asks
 * for memory with ioctls. Memory is reported as an offset in the file, so
 * its address is ``base`` plus that offset: whole chunks lie in the chunk
 * window (file offsets below out_window_size), small runs in the small
 * window. Each part can be mapped once; neither can be split or moved.
 *
 * Every ioctl takes a pointer to a struct whose first field, ``size``, is the
 * size of the struct as the caller knows it (``sizeof(struct ...)``). The
 * kernel accepts a caller's struct that is larger than its own as long as the
 * extra bytes are zero, and a smaller one as long as it holds every field of
 * the first version of the struct. Output fields are prefixed ``out_``. Every
 * ``flags`` field rejects unknown bits and every ``__reserved`` field must be
 * zero.
 *
 * The errno values have one meaning across all ioctls:
 *
 * - ENOTTY: unknown ioctl command.
 * - EFAULT: the argument pointer is not readable or writable.
 * - EINVAL: unknown flags, nonzero reserved fields, a ``size`` smaller than
 *   the first version of the struct, or a count out of range.
 * - E2BIG: ``size`` is larger than the kernel's struct and the extra bytes
 *   are not zero, or larger than a page (no struct will ever be).
 * - ENOENT: the arena id is unknown (never created, or already freed).
 * - ENOSPC: the window has no free run of slots large enough (or, for
 *   ARENA_IOC_CREATE and ARENA_ALLOC_CREATE, no free arena id), or a
 *   per-file bound of the module was reached: max_empty_arenas for
 *   ARENA_IOC_CREATE, max_small_slots for runs shorter than a chunk
 *   (Documentation/admin-guide/arena.rst).
 * - ENOMEM: no memory for the chunk or the bookkeeping.
 * - EPERM: the file is used from a process other than the one that opened
 *   it (for example a child after fork).
 * - EBUSY: mmap of a window that is already mapped.
 */

/*
 * ABI version reported by ARENA_IOC_GET_INFO; bumped on incompatible
 * changes. 2: the ioctl magic moved from 0xB7 to 0xBA (the structs are
 * those of version 1). 3: small runs live in the small window, a second
 * mapping at file offset out_window_size, and are mapped by the ioctl that
 * makes them.
 */
#define ARENA_ABI_VERSION 3

/*
 * 0xBA, commands 0x80-0x8F: in no entry of the kernel tree's
 * ioctl-number.rst (userspace-api/ioctl/), 6.1 to mainline as of December
 * 2026 (0xB7 belongs to nsfs and remoteproc, 0xB8 to mrvl_cn10k_dpi and
 * mshv, 0xBF is proposed for mlxbf-pka).
 */
#define ARENA_IOC_MAGIC 0xBA

enum {
	ARENA_CMD_BASE = 0x80,
	ARENA_CMD_GET_INFO = ARENA_CMD_BASE,
	ARENA_CMD_CREATE,
	ARENA_CMD_ALLOC_CHUNKS,
	ARENA_CMD_FREE,
	ARENA_CMD_LOOKUP,
	ARENA_CMD_ALLOC,
};

/**
 * struct arena_info - ioctl(ARENA_IOC_GET_INFO)
 * @size: sizeof(struct arena_info)
 * @flags: Must be 0
 * @out_abi_version: ARENA_ABI_VERSION of the running module
 * @out_chunk_shift: log2 of @out_chunk_size
 * @out_chunk_size: size in bytes of one chunk (and of one window slot)
 * @out_window_size: size in bytes of the window; mmap must map exactly this
 * @out_max_chunks: the most chunks one ARENA_IOC_ALLOC_CHUNKS call can map
 * @out_features: ARENA_FEATURE_* bits of the running module. A module that
 *	predates a feature lacks its bit; one that predates the field does not
 *	write it, so a caller that zeroed the struct reads 0.
 * @out_small_window_size: size in bytes of the small window, mapped at
 *	file offset @out_window_size (ARENA_FEATURE_SMALL_WINDOW)
 *
 * Reports the geometry the caller needs before it maps the window, and what
 * the module can do.
 */
struct arena_info {
	__u32 size;
	__u32 flags;
	__u32 out_abi_version;
	__u32 out_chunk_shift;
	__aligned_u64 out_chunk_size;
	__aligned_u64 out_window_size;
	__aligned_u64 out_max_chunks;
	__aligned_u64 out_features;
	__aligned_u64 out_small_window_size;
};

/* ARENA_IOC_ALLOC, small runs and ARENA_ALLOC_CREATE. */
#define ARENA_FEATURE_SMALL_RUNS	_BITULL(0)
/*
 * Small runs live in the small window and are mapped (every page, with
 * 4 KiB entries) by the ioctl that makes them: touching them takes no page
 * fault.
 */
#define ARENA_FEATURE_SMALL_WINDOW	_BITULL(1)
/* ARENA_IOC_FREE takes ARENA_FREE_NEXT. */
#define ARENA_FEATURE_FREE_NEXT		_BITULL(2)
/* ARENA_IOC_ALLOC takes ARENA_ALLOC_NOZERO. */
#define ARENA_FEATURE_NOZERO		_BITULL(3)
/*
 * ARENA_ALLOC_NOZERO applies to small runs too (pages of this file's own
 * freed no-zero small runs are handed out again unzeroed), and
 * ARENA_IOC_FREE takes ARENA_FREE_NEXT_NOZERO.
 */
#define ARENA_FEATURE_NOZERO_SMALL	_BITULL(4)

#define ARENA_IOC_GET_INFO _IO(ARENA_IOC_MAGIC, ARENA_CMD_GET_INFO)

/**
 * struct arena_create - ioctl(ARENA_IOC_CREATE)
 * @size: sizeof(struct arena_create)
 * @flags: Must be 0
 * @out_arena_id: id of the new arena, never 0
 * @__reserved: Must be 0
 *
 * Creates an empty arena owned by this open file. Ids are handed out
 * cyclically, so a freed id is not reused until about 2^32 arenas later and a
 * double free reliably reports ENOENT.
 */
struct arena_create {
	__u32 size;
	__u32 flags;
	__u32 out_arena_id;
	__u32 __reserved;
};

#define ARENA_IOC_CREATE _IO(ARENA_IOC_MAGIC, ARENA_CMD_CREATE)

/*
 * ARENA_ALLOC_RESET: free everything the arena had before adding the new
 * chunks, in the same call (the arena id stays valid). The old chunks are
 * revoked only once the new ones are in place: on failure the arena is
 * unchanged. The new chunks are charged before the old ones are uncharged.
 */
#define ARENA_ALLOC_RESET		0x1U
#define ARENA_ALLOC_VALID_FLAGS		(ARENA_ALLOC_RESET)

/*
 * ARENA_ALLOC_CREATE (ARENA_IOC_ALLOC only): create a new arena and give it
 * the memory in one call; its id is returned in @arena_id, which must be 0
 * on entry. Not together with ARENA_ALLOC_RESET.
 */
#define ARENA_ALLOC_CREATE		0x2U
/*
 * ARENA_ALLOC_NOZERO (ARENA_IOC_ALLOC only): the memory need not be zeroed.
 * Whole chunks that this open file's own ARENA_ALLOC_NOZERO runs left,
 * freed and unreferenced (nothing maps or pins them), are handed out again
 * as they are, old bytes included, before any chunk from the pool; a freed
 * no-zero run's chunks are kept for that (up to the module's
 * nozero_keep_mb) instead of going to the pool to be zeroed. So a no-zero
 * run may hold bytes of this file's earlier no-zero runs, never another
 * file's (or process's), and a run without the flag is always zeroed;
 * freed addresses still fault. With ARENA_FEATURE_NOZERO_SMALL the same
 * holds for small runs: no-zero small runs are carved from a shared chunk
 * of their own, which, once every run carved from it is freed and nothing
 * references it, is kept and carved again unzeroed for the next no-zero
 * small runs. Without that feature small runs are zeroed regardless.
 */
#define ARENA_ALLOC_NOZERO		0x4U
#define ARENA_IOC_ALLOC_VALID_FLAGS	(ARENA_ALLOC_RESET | ARENA_ALLOC_CREATE | \
					 ARENA_ALLOC_NOZERO)

/**
 * struct arena_alloc_chunks - ioctl(ARENA_IOC_ALLOC_CHUNKS)
 * @size: sizeof(struct arena_alloc_chunks)
 * @flags: 0 or ARENA_ALLOC_RESET
 * @arena_id: the arena the chunks join
 * @nr_chunks: number of chunks, 1 to out_max_chunks; they occupy
 *	consecutive slots, so the caller sees one contiguous range
 * @out_offset: window offset of the first chunk
 *
 * Adds @nr_chunks zeroed chunks to an arena. Nothing is mapped yet: the first
 * touch of each chunk faults it in, with a single PMD entry where the chunk is
 * a 2 MiB page. With ARENA_ALLOC_RESET the arena's previous chunks are freed
 * (and fault from then on) by the same call.
 */
struct arena_alloc_chunks {
	__u32 size;
	__u32 flags;
	__u32 arena_id;
	__u32 nr_chunks;
	__aligned_u64 out_offset;
};

#define ARENA_IOC_ALLOC_CHUNKS _IO(ARENA_IOC_MAGIC, ARENA_CMD_ALLOC_CHUNKS)

/**
 * struct arena_alloc - ioctl(ARENA_IOC_ALLOC)
 * @size: sizeof(struct arena_alloc)
 * @flags: 0, ARENA_ALLOC_RESET or ARENA_ALLOC_CREATE, and
 *	ARENA_ALLOC_NOZERO
 * @arena_id: the arena the memory joins; with ARENA_ALLOC_CREATE, 0 on entry
 *	and the new arena's id on return
 * @__reserved: Must be 0
 * @length: bytes to map, a nonzero multiple of the page size and at most
 *	out_max_chunks chunks
 * @out_offset: window offset of the first byte
 * @out_length: bytes mapped: @length, or @length rounded up to whole chunks
 *	when it is a chunk or more
 *
 * Adds @length bytes of zeroed memory to an arena as one contiguous range of
 * the window. A range shorter than a chunk is a small run: its pages are
 * carved out of a physical chunk that other small runs of the same open file
 * share, it lies in the small window, where the ioctl maps every page with
 * a 4 KiB entry before it returns (if the small window is mapped; an entry
 * that cannot be made then is made by the first touch), and freeing the
 * arena revokes exactly its pages; the physical chunk goes back to the pool
 * once every run carved from it is freed and unreferenced. A range of a
 * chunk or more is made of whole chunks, mapped with one PMD entry each
 * where the chunk is a 2 MiB page, exactly as ARENA_IOC_ALLOC_CHUNKS does.
 * Either way every byte faults once the arena is freed. With
 * ARENA_ALLOC_NOZERO whole chunks may hold this file's old bytes (see
 * above).
 */
struct arena_alloc {
	__u32 size;
	__u32 flags;
	__u32 arena_id;
	__u32 __reserved;
	__aligned_u64 length;
	__aligned_u64 out_offset;
	__aligned_u64 out_length;
};

#define ARENA_IOC_ALLOC _IO(ARENA_IOC_MAGIC, ARENA_CMD_ALLOC)

/*
 * ARENA_FREE_NEXT: after the free, create the caller's next arena with
 * @next_length bytes already mapped, as ARENA_IOC_ALLOC with
 * ARENA_ALLOC_CREATE would: a loop of "new arena, use it, free it" then
 * costs one ioctl a round. Needs the struct's second version (@next_length).
 */
#define ARENA_FREE_NEXT			0x1U
/*
 * ARENA_FREE_NEXT_NOZERO (with ARENA_FREE_NEXT; ARENA_FEATURE_NOZERO_SMALL):
 * the next arena's memory is made as with ARENA_ALLOC_NOZERO.
 */
#define ARENA_FREE_NEXT_NOZERO		0x2U
#define ARENA_FREE_VALID_FLAGS		(ARENA_FREE_NEXT | ARENA_FREE_NEXT_NOZERO)

/**
 * struct arena_free - ioctl(ARENA_IOC_FREE)
 * @size: sizeof(struct arena_free)
 * @flags: 0 or ARENA_FREE_NEXT, which ARENA_FREE_NEXT_NOZERO may join
 * @arena_id: the arena to free
 * @out_next_id: with ARENA_FREE_NEXT, the next arena's id, or 0 if it could
 *	not be made (the free itself still happened); must be 0 on entry
 *	(the first version's reserved field)
 * @next_length: with ARENA_FREE_NEXT, the next arena's memory: as
 *	&struct arena_alloc's @length; must be 0 without it
 * @out_next_offset: with ARENA_FREE_NEXT and @out_next_id not 0, the file
 *	offset of the next arena's memory (its length is @next_length rounded
 *	as ARENA_IOC_ALLOC rounds it)
 *
 * Frees an arena and every chunk it holds. When the ioctl returns, no page of
 * the arena is mapped anywhere and every later access to its range faults
 * with SIGSEGV at the exact address. The range is not handed out again until
 * the window runs out of never-used slots.
 */
struct arena_free {
	__u32 size;
	__u32 flags;
	__u32 arena_id;
	__u32 out_next_id;
	__aligned_u64 next_length;
	__aligned_u64 out_next_offset;
};

#define ARENA_IOC_FREE _IO(ARENA_IOC_MAGIC, ARENA_CMD_FREE)

/**
 * enum arena_slot_state - state of a window slot, as ARENA_IOC_LOOKUP reports
 * @ARENA_SLOT_EMPTY: never handed out (or recycled and not yet reused)
 * @ARENA_SLOT_LIVE: holds a chunk of a live arena
 * @ARENA_SLOT_FREED: held a chunk of an arena that has been freed
 */
enum arena_slot_state {
	ARENA_SLOT_EMPTY = 0,
	ARENA_SLOT_LIVE = 1,
	ARENA_SLOT_FREED = 2,
};

/**
 * struct arena_lookup - ioctl(ARENA_IOC_LOOKUP)
 * @size: sizeof(struct arena_lookup)
 * @flags: Must be 0
 * @offset: window offset to look up (for example si_addr minus the base)
 * @out_state: an enum arena_slot_state
 * @out_arena_id: the arena that holds or held the slot, 0 if EMPTY
 * @out_arena_offset: offset of @offset within the run (of chunks, or of
 *	pages for a small run) that the arena got from one allocation ioctl
 * @out_freed_ns_ago: for FREED, nanoseconds since the arena was freed
 * @out_freed_by_pid: for FREED, the pid (in the caller's namespace) that
 *	freed it, 0 if that process is gone
 * @__reserved: Must be 0
 *
 * Tells which arena an address belongs or belonged to: the reverse lookup a
 * SIGSEGV handler or a test uses to name the arena of a stale pointer.
 */
struct arena_lookup {
	__u32 size;
	__u32 flags;
	__aligned_u64 offset;
	__u32 out_state;
	__u32 out_arena_id;
	__aligned_u64 out_arena_offset;
	__aligned_u64 out_freed_ns_ago;
	__u32 out_freed_by_pid;
	__u32 __reserved;
};

#define ARENA_IOC_LOOKUP _IO(ARENA_IOC_MAGIC, ARENA_CMD_LOOKUP)

#endif /* _UAPI_LINUX_ARENA_H */
