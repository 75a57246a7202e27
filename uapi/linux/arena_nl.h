/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * The "arena" generic netlink family: statistics dumps and events of
 * arena.ko. Described by Documentation/netlink/specs/arena.yaml; keep the
 * two in step.
 *
 * Copyright (C) 2026 The arena authors
 */
#ifndef _UAPI_LINUX_ARENA_NL_H
#define _UAPI_LINUX_ARENA_NL_H

#define ARENA_NL_FAMILY_NAME	"arena"
#define ARENA_NL_FAMILY_VERSION	1
#define ARENA_NL_MCGRP_EVENTS	"events"

/**
 * enum arena_nl_cmd - commands and notifications
 * @ARENA_NL_CMD_UNSPEC: not a command (0 is refused)
 * @ARENA_NL_CMD_POOL_GET: dump: the pool's totals (no ARENA_NL_POOL_NODE),
 *	then one message per NUMA node
 * @ARENA_NL_CMD_ARENA_GET: dump: one message per live arena; optional
 *	request attribute ARENA_NL_ARENA_PID limits it to one process.
 *	Unprivileged callers see only their own user's processes.
 * @ARENA_NL_CMD_QUARANTINE_GET: dump: one message per quarantined chunk
 * @ARENA_NL_CMD_UAF_NTF: event: a fault on a freed arena (ARENA_NL_UAF_*)
 * @ARENA_NL_CMD_HELD_NTF: event: a chunk has been held in quarantine for
 *	longer than the module parameter held_warn_ms (ARENA_NL_QCHUNK_*)
 * @__ARENA_NL_CMD_MAX: one past the last command
 * @ARENA_NL_CMD_MAX: the last command
 */
enum arena_nl_cmd {
	ARENA_NL_CMD_UNSPEC,
	ARENA_NL_CMD_POOL_GET,
	ARENA_NL_CMD_ARENA_GET,
	ARENA_NL_CMD_QUARANTINE_GET,
	ARENA_NL_CMD_UAF_NTF,
	ARENA_NL_CMD_HELD_NTF,

	__ARENA_NL_CMD_MAX,
	ARENA_NL_CMD_MAX = (__ARENA_NL_CMD_MAX - 1)
};

/*
 * Attributes of ARENA_NL_CMD_POOL_GET. Chunk counts by state are current
 * values; the others count events since the module was loaded (per node
 * messages carry only the state counts).
 */
enum arena_nl_pool_attrs {
	ARENA_NL_POOL_UNSPEC,
	ARENA_NL_POOL_PAD,
	ARENA_NL_POOL_NODE,		/* u32: NUMA node, absent in the total */
	ARENA_NL_POOL_CHUNK_SIZE,	/* u64: bytes per chunk */
	ARENA_NL_POOL_READY,		/* u64: chunks */
	ARENA_NL_POOL_IN_USE,		/* u64: chunks */
	ARENA_NL_POOL_QUARANTINED,	/* u64: chunks */
	ARENA_NL_POOL_DIRTY,		/* u64: chunks */
	ARENA_NL_POOL_TOTAL,		/* u64: chunks */
	ARENA_NL_POOL_ARENAS_CREATED,	/* u64 */
	ARENA_NL_POOL_ARENAS_FREED,	/* u64 */
	ARENA_NL_POOL_CHUNKS_MAPPED,	/* u64: handed to arenas */
	ARENA_NL_POOL_CHUNKS_QUARANTINED, /* u64: entered quarantine held */
	ARENA_NL_POOL_CHUNKS_RELEASED,	/* u64: back to the page allocator */
	ARENA_NL_POOL_PAGES_ZEROED,	/* u64 */
	ARENA_NL_POOL_SHRINKER_RELEASED, /* u64: chunks */
	ARENA_NL_POOL_LIMIT_HITS,	/* u64 */
	ARENA_NL_POOL_UAF_FAULTS,	/* u64 */

	__ARENA_NL_POOL_MAX,
	ARENA_NL_POOL_MAX = (__ARENA_NL_POOL_MAX - 1)
};

/* Attributes of ARENA_NL_CMD_ARENA_GET. */
enum arena_nl_arena_attrs {
	ARENA_NL_ARENA_UNSPEC,
	ARENA_NL_ARENA_PAD,
	ARENA_NL_ARENA_PID,		/* u32: process (caller's pid namespace) */
	ARENA_NL_ARENA_ID,		/* u32: arena id */
	ARENA_NL_ARENA_CHUNKS,		/* u64: whole chunks held */
	ARENA_NL_ARENA_BYTES_MAPPED,	/* u64: bytes held, chunks and small runs */
	ARENA_NL_ARENA_STATE,		/* u32: enum arena_nl_arena_state */
	ARENA_NL_ARENA_COMM,		/* string: the process's comm */
	ARENA_NL_ARENA_PAGES,		/* u64: pages held, chunks and small runs */

	__ARENA_NL_ARENA_MAX,
	ARENA_NL_ARENA_MAX = (__ARENA_NL_ARENA_MAX - 1)
};

enum arena_nl_arena_state {
	ARENA_NL_ARENA_LIVE = 1,
};

/* Why a quarantined chunk is still held. */
enum arena_nl_hold {
	ARENA_NL_HELD_MAPPED = 1,	/* a page table still maps a page */
	ARENA_NL_HELD_PINNED = 2,	/* a GUP pin: O_DIRECT, io_uring, ... */
	ARENA_NL_HELD_REFERENCED = 3,	/* another reference: a pipe, ... */
};

/* Attributes of ARENA_NL_CMD_QUARANTINE_GET and ARENA_NL_CMD_HELD_NTF. */
enum arena_nl_qchunk_attrs {
	ARENA_NL_QCHUNK_UNSPEC,
	ARENA_NL_QCHUNK_PAD,
	ARENA_NL_QCHUNK_ID,		/* u64: chunk serial number */
	ARENA_NL_QCHUNK_NODE,		/* u32: NUMA node */
	ARENA_NL_QCHUNK_BYTES,		/* u64: size of the chunk */
	ARENA_NL_QCHUNK_HOLD,		/* u32: enum arena_nl_hold */
	ARENA_NL_QCHUNK_HELD_MS,	/* u64: time in quarantine */

	__ARENA_NL_QCHUNK_MAX,
	ARENA_NL_QCHUNK_MAX = (__ARENA_NL_QCHUNK_MAX - 1)
};

/* Attributes of ARENA_NL_CMD_UAF_NTF. */
enum arena_nl_uaf_attrs {
	ARENA_NL_UAF_UNSPEC,
	ARENA_NL_UAF_PAD,
	ARENA_NL_UAF_PID,		/* u32: the window's owner (init pid ns) */
	ARENA_NL_UAF_COMM,		/* string */
	ARENA_NL_UAF_ADDR,		/* u64: faulting address */
	ARENA_NL_UAF_ARENA_ID,		/* u32 */
	ARENA_NL_UAF_OFFSET,		/* u64: offset in the arena's run */
	ARENA_NL_UAF_FREED_NS_AGO,	/* u64 */
	ARENA_NL_UAF_FREED_BY_PID,	/* u32: init pid ns */
	/*
	 * Only when another process made the access (ptrace, /proc/pid/mem,
	 * process_vm_readv, a kernel thread on the owner's mm): that one.
	 */
	ARENA_NL_UAF_VIA_PID,		/* u32: init pid ns */
	ARENA_NL_UAF_VIA_COMM,		/* string */

	__ARENA_NL_UAF_MAX,
	ARENA_NL_UAF_MAX = (__ARENA_NL_UAF_MAX - 1)
};

#endif /* _UAPI_LINUX_ARENA_NL_H */
