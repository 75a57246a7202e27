// SPDX-License-Identifier: GPL-2.0
/*
 * The "arena" generic netlink family: dumps of the pool, the live arenas and
 * the quarantine, and an "events" multicast group for use-after-free faults
 * and chunks held in quarantine for long. The ABI is uapi/linux/arena_nl.h,
 * described by Documentation/netlink/specs/arena.yaml.
 *
 * Who sees what: the dumps are open to everyone, but a caller without
 * CAP_SYS_ADMIN sees only the arenas of processes of its own euid, and pids
 * are those of the caller's pid namespace. The pool and quarantine dumps
 * carry no process information. The events group needs CAP_NET_ADMIN.
 */
#include <linux/cred.h>
#include <linux/nodemask.h>
#include <net/genetlink.h>
#include <net/netlink.h>

#include <uapi/linux/arena_nl.h>

#include "arena_priv.h"
#include "compat.h"
#include "events.h"

static struct genl_family arena_genl_family;

/*
 * Bumped whenever an arena, a window or a quarantined chunk comes or goes.
 * A dump that spans several recvmsg() rounds records it in cb->seq, and a
 * change between rounds marks the next message NLM_F_DUMP_INTR, so the
 * reader knows to dump again (it may have missed or repeated entries).
 */
static atomic_t arena_nl_gen = ATOMIC_INIT(1);

void arena_event_changed(void)
{
	atomic_inc(&arena_nl_gen);
}

enum arena_nl_mcgrp {
	ARENA_NL_MCGRP_EVENTS_ID,
};

static const struct genl_multicast_group arena_nl_mcgrps[] = {
	[ARENA_NL_MCGRP_EVENTS_ID] = {
		.name = ARENA_NL_MCGRP_EVENTS,
		.flags = GENL_MCAST_CAP_NET_ADMIN,
	},
};

static int arena_put_u64(struct sk_buff *skb, int type, u64 v, int pad)
{
	return nla_put_u64_64bit(skb, type, v, pad);
}

#define POOL_PUT(attr, v) \
	arena_put_u64(skb, ARENA_NL_POOL_##attr, v, ARENA_NL_POOL_PAD)

static long arena_stat(atomic_long_t *v)
{
	return atomic_long_read(v);
}

/* The totals message: the state counts and the events since load. */
static int arena_nl_fill_pool_total(struct sk_buff *skb)
{
	struct arena_stats *s = &arena_stats;

	if (POOL_PUT(CHUNK_SIZE, ARENA_CHUNK_SIZE) ||
	    POOL_PUT(READY, arena_stat(&s->chunks_ready)) ||
	    POOL_PUT(IN_USE, arena_stat(&s->chunks_in_use)) ||
	    POOL_PUT(QUARANTINED, arena_stat(&s->chunks_quarantined)) ||
	    POOL_PUT(DIRTY, arena_stat(&s->chunks_dirty)) ||
	    POOL_PUT(TOTAL, arena_stat(&s->chunks_total)) ||
	    POOL_PUT(ARENAS_CREATED, arena_stat(&s->arenas_created)) ||
	    POOL_PUT(ARENAS_FREED, arena_stat(&s->arenas_freed)) ||
	    POOL_PUT(CHUNKS_MAPPED, arena_stat(&s->chunks_mapped)) ||
	    POOL_PUT(CHUNKS_QUARANTINED, arena_stat(&s->chunks_held)) ||
	    POOL_PUT(CHUNKS_RELEASED, arena_stat(&s->chunks_released)) ||
	    POOL_PUT(PAGES_ZEROED, arena_stat(&s->pages_zeroed)) ||
	    POOL_PUT(SHRINKER_RELEASED, arena_stat(&s->shrinker_released)) ||
	    POOL_PUT(LIMIT_HITS, arena_stat(&s->limit_hits)) ||
	    POOL_PUT(UAF_FAULTS, arena_stat(&s->uaf_faults)))
		return -EMSGSIZE;
	return 0;
}

static int arena_nl_fill_pool_node(struct sk_buff *skb, int nid)
{
	struct arena_node_stats st;

	arena_node_stats(nid, &st);
	if (nla_put_u32(skb, ARENA_NL_POOL_NODE, nid) ||
	    POOL_PUT(CHUNK_SIZE, ARENA_CHUNK_SIZE) ||
	    POOL_PUT(READY, st.ready) ||
	    POOL_PUT(IN_USE, st.in_use) ||
	    POOL_PUT(QUARANTINED, st.quarantined) ||
	    POOL_PUT(DIRTY, st.dirty) ||
	    POOL_PUT(TOTAL, st.ready + st.in_use + st.quarantined + st.dirty))
		return -EMSGSIZE;
	return 0;
}

/*
 * cb->args[0]: 0 before the totals, then 1 + the next node to send.
 */
static int arena_nl_fill_qchunk(struct sk_buff *skb,
				struct netlink_callback *cb,
				const struct arena_chunk *c, u64 held_ms);

/* A dump round in progress: the walker callbacks' argument. */
struct arena_nl_dump {
	struct sk_buff *skb;
	struct netlink_callback *cb;
	int err;		/* why the last callback stopped the walk */
};

static int arena_nl_qchunk_one(void *arg, const struct arena_chunk *c,
			       u64 held_ms)
{
	struct arena_nl_dump *d = arg;

	return arena_nl_fill_qchunk(d->skb, d->cb, c, held_ms);
}

/*
 * One message per quarantined chunk, oldest first, resuming after the
 * cb->args[0] already sent.
 */
static int arena_nl_quarantine_dumpit(struct sk_buff *skb,
				      struct netlink_callback *cb)
{
	struct arena_nl_dump d = { skb, cb, 0 };

	cb->seq = atomic_read(&arena_nl_gen);
	cb->args[0] = arena_quarantine_walk(cb->args[0], arena_nl_qchunk_one,
					    &d);
	return skb->len;
}

static int arena_nl_pool_dumpit(struct sk_buff *skb,
				struct netlink_callback *cb)
{
	int nid, err;
	void *hdr;

	for (;;) {
		if (cb->args[0] == 0) {
			nid = NUMA_NO_NODE;
		} else {
			nid = cb->args[0] - 1;
			nid = nid ? next_node(nid - 1, node_states[N_MEMORY]) :
				    first_node(node_states[N_MEMORY]);
			if (nid >= MAX_NUMNODES)
				break;
		}
		hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid,
				  cb->nlh->nlmsg_seq, &arena_genl_family,
				  NLM_F_MULTI, ARENA_NL_CMD_POOL_GET);
		if (!hdr)
			break;
		err = nid == NUMA_NO_NODE ? arena_nl_fill_pool_total(skb) :
					    arena_nl_fill_pool_node(skb, nid);
		if (err) {
			genlmsg_cancel(skb, hdr);
			break;
		}
		genlmsg_end(skb, hdr);
		cb->args[0] = nid == NUMA_NO_NODE ? 1 : nid + 2;
	}
	return skb->len;
}

/*
 * The caller's view, fixed when the dump starts (a dump may continue from
 * a later recvmsg()): cb->args[1] the pid filter, cb->args[2] whether it
 * may see every user's arenas, cb->args[3] its euid.
 */
static int arena_nl_arena_start(struct netlink_callback *cb)
{
	struct nlattr **attrs = arena_genl_dump_attrs(cb);
	struct nlattr *pid = attrs ? attrs[ARENA_NL_ARENA_PID] : NULL;

	cb->args[0] = 0;
	cb->args[1] = pid ? nla_get_u32(pid) : 0;
	cb->args[2] = netlink_capable(cb->skb, CAP_SYS_ADMIN);
	cb->args[3] = from_kuid_munged(&init_user_ns, current_euid());
	return 0;
}

static int arena_nl_arena_one(void *arg, const struct arena_view *v)
{
	struct arena_nl_dump *d = arg;
	struct sk_buff *skb = d->skb;
	struct netlink_callback *cb = d->cb;
	void *hdr;

	hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq,
			  &arena_genl_family, NLM_F_MULTI,
			  ARENA_NL_CMD_ARENA_GET);
	if (!hdr)
		goto full;
	genl_dump_check_consistent(cb, hdr);
	if (nla_put_u32(skb, ARENA_NL_ARENA_PID, v->pid) ||
	    nla_put_u32(skb, ARENA_NL_ARENA_ID, v->id) ||
	    arena_put_u64(skb, ARENA_NL_ARENA_CHUNKS, v->chunks,
			  ARENA_NL_ARENA_PAD) ||
	    arena_put_u64(skb, ARENA_NL_ARENA_BYTES_MAPPED,
			  (u64)v->pages << PAGE_SHIFT, ARENA_NL_ARENA_PAD) ||
	    arena_put_u64(skb, ARENA_NL_ARENA_PAGES, v->pages,
			  ARENA_NL_ARENA_PAD) ||
	    nla_put_u32(skb, ARENA_NL_ARENA_STATE, ARENA_NL_ARENA_LIVE) ||
	    nla_put_string(skb, ARENA_NL_ARENA_COMM, v->comm)) {
		genlmsg_cancel(skb, hdr);
		goto full;
	}
	genlmsg_end(skb, hdr);
	return 0;

full:
	d->err = -EMSGSIZE;
	return d->err;
}

/*
 * One message per live arena of the windows the caller may see, resuming
 * after the cb->args[0] arenas already sent.
 */
static int arena_nl_arena_dumpit(struct sk_buff *skb,
				 struct netlink_callback *cb)
{
	struct arena_nl_dump d = { skb, cb, 0 };

	cb->seq = atomic_read(&arena_nl_gen);
	cb->args[0] = arena_arenas_walk(cb->args[1], cb->args[2],
					make_kuid(&init_user_ns, cb->args[3]),
					cb->args[0], arena_nl_arena_one, &d);
	/* A full skb ends this round; not even one message fitted: error. */
	return d.err && !skb->len ? d.err : skb->len;
}

static u32 arena_nl_hold(unsigned int hold)
{
	switch (hold) {
	case ARENA_HELD_MAPPED:
		return ARENA_NL_HELD_MAPPED;
	case ARENA_HELD_PINNED:
		return ARENA_NL_HELD_PINNED;
	default:
		return ARENA_NL_HELD_REFERENCED;
	}
}

/* A quarantine dump message if @cb is set, else the held-ntf event. */
static int arena_nl_fill_qchunk(struct sk_buff *skb,
				struct netlink_callback *cb,
				const struct arena_chunk *c, u64 held_ms)
{
	void *hdr;

	if (cb) {
		hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid,
				  cb->nlh->nlmsg_seq, &arena_genl_family,
				  NLM_F_MULTI, ARENA_NL_CMD_QUARANTINE_GET);
		if (hdr)
			genl_dump_check_consistent(cb, hdr);
	} else {
		hdr = genlmsg_put(skb, 0, 0, &arena_genl_family, 0,
				  ARENA_NL_CMD_HELD_NTF);
	}
	if (!hdr)
		return -EMSGSIZE;
	if (arena_put_u64(skb, ARENA_NL_QCHUNK_ID, c->id,
			  ARENA_NL_QCHUNK_PAD) ||
	    nla_put_u32(skb, ARENA_NL_QCHUNK_NODE, c->nid) ||
	    arena_put_u64(skb, ARENA_NL_QCHUNK_BYTES, ARENA_CHUNK_SIZE,
			  ARENA_NL_QCHUNK_PAD) ||
	    nla_put_u32(skb, ARENA_NL_QCHUNK_HOLD, arena_nl_hold(c->hold)) ||
	    arena_put_u64(skb, ARENA_NL_QCHUNK_HELD_MS, held_ms,
			  ARENA_NL_QCHUNK_PAD)) {
		genlmsg_cancel(skb, hdr);
		return -EMSGSIZE;
	}
	genlmsg_end(skb, hdr);
	return 0;
}

static const struct nla_policy arena_nl_arena_policy[ARENA_NL_ARENA_MAX + 1] = {
	/* 0 would read as "no filter": refuse it. */
	[ARENA_NL_ARENA_PID] = NLA_POLICY_MIN(NLA_U32, 1),
};

/* Requests that take no attributes: every attribute is refused. */
static const struct nla_policy arena_nl_none_policy[ARENA_NL_ARENA_MAX + 1] = {
	[ARENA_NL_ARENA_PID] = { .type = NLA_REJECT },
};

static const struct genl_ops arena_nl_ops[] = {
	{
		.cmd = ARENA_NL_CMD_POOL_GET,
		.dumpit = arena_nl_pool_dumpit,
		.policy = arena_nl_none_policy,
		.maxattr = ARENA_NL_ARENA_MAX,
	},
	{
		.cmd = ARENA_NL_CMD_ARENA_GET,
		.start = arena_nl_arena_start,
		.dumpit = arena_nl_arena_dumpit,
		.policy = arena_nl_arena_policy,
		.maxattr = ARENA_NL_ARENA_MAX,
	},
	{
		.cmd = ARENA_NL_CMD_QUARANTINE_GET,
		.dumpit = arena_nl_quarantine_dumpit,
		.policy = arena_nl_none_policy,
		.maxattr = ARENA_NL_ARENA_MAX,
	},
};

static struct genl_family arena_genl_family __ro_after_init = {
	.name = ARENA_NL_FAMILY_NAME,
	.version = ARENA_NL_FAMILY_VERSION,
	.netnsok = true,
	.module = THIS_MODULE,
	.ops = arena_nl_ops,
	.n_ops = ARRAY_SIZE(arena_nl_ops),
	.mcgrps = arena_nl_mcgrps,
	.n_mcgrps = ARRAY_SIZE(arena_nl_mcgrps),
};

static bool arena_nl_listened(void)
{
	return genl_has_listeners(&arena_genl_family, &init_net,
				  ARENA_NL_MCGRP_EVENTS_ID);
}

static void arena_nl_send_event(struct sk_buff *skb)
{
	genlmsg_multicast(&arena_genl_family, skb, 0,
			  ARENA_NL_MCGRP_EVENTS_ID, GFP_NOWAIT);
}

/* Called from the fault path, without locks held. */
void arena_event_uaf(const struct arena_uaf_report *r)
{
	struct sk_buff *skb;
	void *hdr;

	if (!arena_nl_listened())
		return;
	skb = genlmsg_new(NLMSG_GOODSIZE, GFP_NOWAIT);
	if (!skb)
		return;
	hdr = genlmsg_put(skb, 0, 0, &arena_genl_family, 0,
			  ARENA_NL_CMD_UAF_NTF);
	if (!hdr)
		goto free;
	if (nla_put_u32(skb, ARENA_NL_UAF_PID, r->pid) ||
	    nla_put_string(skb, ARENA_NL_UAF_COMM, r->comm) ||
	    arena_put_u64(skb, ARENA_NL_UAF_ADDR, r->addr, ARENA_NL_UAF_PAD) ||
	    nla_put_u32(skb, ARENA_NL_UAF_ARENA_ID, r->arena_id) ||
	    arena_put_u64(skb, ARENA_NL_UAF_OFFSET, r->offset,
			  ARENA_NL_UAF_PAD) ||
	    arena_put_u64(skb, ARENA_NL_UAF_FREED_NS_AGO, r->freed_ns_ago,
			  ARENA_NL_UAF_PAD) ||
	    nla_put_u32(skb, ARENA_NL_UAF_FREED_BY_PID, r->freed_by))
		goto free;
	if (r->via_pid &&
	    (nla_put_u32(skb, ARENA_NL_UAF_VIA_PID, r->via_pid) ||
	     nla_put_string(skb, ARENA_NL_UAF_VIA_COMM, r->via_comm)))
		goto free;
	genlmsg_end(skb, hdr);
	arena_nl_send_event(skb);
	return;
free:
	nlmsg_free(skb);
}

/* Called by the quarantine sweeper, under its spinlock. */
void arena_event_held(const struct arena_chunk *c, u64 held_ms)
{
	struct sk_buff *skb;

	if (!arena_nl_listened())
		return;
	skb = genlmsg_new(NLMSG_GOODSIZE, GFP_ATOMIC);
	if (!skb)
		return;
	if (arena_nl_fill_qchunk(skb, NULL, c, held_ms)) {
		nlmsg_free(skb);
		return;
	}
	genlmsg_multicast(&arena_genl_family, skb, 0,
			  ARENA_NL_MCGRP_EVENTS_ID, GFP_ATOMIC);
}

int arena_netlink_init(void)
{
	return genl_register_family(&arena_genl_family);
}

void arena_netlink_exit(void)
{
	genl_unregister_family(&arena_genl_family);
}
