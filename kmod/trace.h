/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Tracepoints of arena.ko, in tracefs under events/arena/: arena create and
 * free, a chunk handed to an arena at a window slot, a chunk entering
 * quarantine, a chunk zeroed, a chunk released to the page allocator, and a
 * use-after-free fault.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM arena

#if !defined(_ARENA_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _ARENA_TRACE_H

#include <linux/tracepoint.h>

#include "arena_priv.h"
#include "events.h"

TRACE_EVENT(arena_create,
	    TP_PROTO(u32 id),
	    TP_ARGS(id),
	    TP_STRUCT__entry(__field(u32, id)),
	    TP_fast_assign(__entry->id = id;),
	    TP_printk("arena=%u", __entry->id)
);

TRACE_EVENT(arena_free,
	    TP_PROTO(u32 id, unsigned long chunks),
	    TP_ARGS(id, chunks),
	    TP_STRUCT__entry(__field(u32, id)
			     __field(unsigned long, chunks)),
	    TP_fast_assign(__entry->id = id;
			   __entry->chunks = chunks;),
	    TP_printk("arena=%u chunks=%lu", __entry->id, __entry->chunks)
);

TRACE_EVENT(arena_chunk_map,
	    TP_PROTO(u32 id, unsigned long slot,
		     const struct arena_chunk *c),
	    TP_ARGS(id, slot, c),
	    TP_STRUCT__entry(__field(u32, id)
			     __field(unsigned long, slot)
			     __field(u64, chunk)
			     __field(int, nid)
			     __field(unsigned int, order)),
	    TP_fast_assign(__entry->id = id;
			   __entry->slot = slot;
			   __entry->chunk = c->id;
			   __entry->nid = c->nid;
			   __entry->order = c->order;),
	    TP_printk("arena=%u slot=%lu chunk=%llu node=%d order=%u",
		      __entry->id, __entry->slot, __entry->chunk,
		      __entry->nid, __entry->order)
);

/* A small run: @nr pages at window page @pgoff, from page @first of @c. */
TRACE_EVENT(arena_small_run,
	    TP_PROTO(u32 id, unsigned long pgoff, unsigned long nr,
		     const struct arena_chunk *c, unsigned int first),
	    TP_ARGS(id, pgoff, nr, c, first),
	    TP_STRUCT__entry(__field(u32, id)
			     __field(unsigned long, pgoff)
			     __field(unsigned long, nr)
			     __field(u64, chunk)
			     __field(unsigned int, first)),
	    TP_fast_assign(__entry->id = id;
			   __entry->pgoff = pgoff;
			   __entry->nr = nr;
			   __entry->chunk = c->id;
			   __entry->first = first;),
	    TP_printk("arena=%u pgoff=%#lx pages=%lu chunk=%llu first=%u",
		      __entry->id, __entry->pgoff, __entry->nr,
		      __entry->chunk, __entry->first)
);

DECLARE_EVENT_CLASS(arena_chunk_class,
		    TP_PROTO(const struct arena_chunk *c),
		    TP_ARGS(c),
		    TP_STRUCT__entry(__field(u64, chunk)
				     __field(int, nid)
				     __field(unsigned int, hold)),
		    TP_fast_assign(__entry->chunk = c->id;
				   __entry->nid = c->nid;
				   __entry->hold = c->hold;),
		    TP_printk("chunk=%llu node=%d hold=%u", __entry->chunk,
			      __entry->nid, __entry->hold)
);

DEFINE_EVENT(arena_chunk_class, arena_chunk_quarantine,
	     TP_PROTO(const struct arena_chunk *c),
	     TP_ARGS(c)
);

DEFINE_EVENT(arena_chunk_class, arena_chunk_zero,
	     TP_PROTO(const struct arena_chunk *c),
	     TP_ARGS(c)
);

DEFINE_EVENT(arena_chunk_class, arena_chunk_release,
	     TP_PROTO(const struct arena_chunk *c),
	     TP_ARGS(c)
);

TRACE_EVENT(arena_uaf_fault,
	    TP_PROTO(const struct arena_uaf_report *r),
	    TP_ARGS(r),
	    TP_STRUCT__entry(__field(pid_t, pid)
			     __array(char, comm, TASK_COMM_LEN)
			     __field(unsigned long, addr)
			     __field(u32, id)
			     __field(u64, offset)
			     __field(u64, freed_ns_ago)
			     __field(pid_t, freed_by)
			     __field(pid_t, via)),
	    TP_fast_assign(__entry->pid = r->pid;
			   memcpy(__entry->comm, r->comm, TASK_COMM_LEN);
			   __entry->addr = r->addr;
			   __entry->id = r->arena_id;
			   __entry->offset = r->offset;
			   __entry->freed_ns_ago = r->freed_ns_ago;
			   __entry->freed_by = r->freed_by;
			   __entry->via = r->via_pid;),
	    TP_printk("pid=%d comm=%s addr=%#lx arena=%u offset=%#llx freed_ns_ago=%llu freed_by=%d via=%d",
		      __entry->pid, __entry->comm, __entry->addr,
		      __entry->id, __entry->offset, __entry->freed_ns_ago,
		      __entry->freed_by, __entry->via)
);

#endif /* _ARENA_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
