/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the core tells the monitoring side (netlink.c, which sends each to
 * the generic netlink family's events group). The core includes this and
 * nothing of netlink; netlink.c reads the core's state only through the
 * walkers arena_priv.h declares (arena_arenas_walk(),
 * arena_quarantine_walk()).
 */
#ifndef _ARENA_EVENTS_H
#define _ARENA_EVENTS_H

#include <linux/sched.h>
#include <linux/types.h>

struct arena_chunk;

/*
 * A use-after-free. @pid and @comm name the window's owner; @via_pid and
 * @via_comm the task that made the access when it is another process
 * reaching into the window (ptrace, /proc/pid/mem, process_vm_readv),
 * else @via_pid is 0.
 */
struct arena_uaf_report {
	pid_t pid;			/* init pid namespace */
	char comm[TASK_COMM_LEN];
	pid_t via_pid;			/* init pid namespace */
	char via_comm[TASK_COMM_LEN];
	unsigned long addr;
	u32 arena_id;
	u64 offset;
	u64 freed_ns_ago;
	pid_t freed_by;			/* init pid namespace */
};

void arena_event_uaf(const struct arena_uaf_report *r);
/* A quarantined chunk has been held for @held_ms: sent once per chunk. */
void arena_event_held(const struct arena_chunk *c, u64 held_ms);
/* Arenas or the quarantine changed: dumps in progress see it. */
void arena_event_changed(void);

#endif /* _ARENA_EVENTS_H */
