// SPDX-License-Identifier: GPL-2.0
/*
 * Description: the "arena" generic netlink family (uapi/linux/arena_nl.h),
 * spoken raw (arena_nl_helpers.h). The pool dump's totals are the numbers
 * of /sys/kernel/arena and its per-node messages add up to them; the arena
 * dump lists exactly a process's arenas, its PID filter works, and a caller
 * without CAP_SYS_ADMIN sees only its own user's arenas; the quarantine dump
 * shows a chunk a vmsplice'd pipe holds, and why, until the pipe is read;
 * the events group (CAP_NET_ADMIN) tells of a use-after-free with its
 * address and arena, and of a chunk held longer than held_warn_ms; every
 * malformed request gets an NLMSG_ERROR (with the kernel's extack message
 * where it gives one) and leaves the family working.
 *
 * Without the family (a module built without netlink) every test skips.
 * The tests change module parameters and /dev/arena's mode; the fixture
 * puts them back.
 */
#include "arena_helpers.h"	/* first: it defines _GNU_SOURCE */
#include "arena_nl_helpers.h"

#include <grp.h>
#include <sys/prctl.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>

#include "kselftest_harness.h"

#define NOBODY		65534
#define SETTLE_MS	30000
#define EVENT_MS	3000

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

static void own_comm(char comm[16])
{
	memset(comm, 0, 16);
	prctl(PR_GET_NAME, comm);
}

/* ---- dumps, checked as they are parsed ---------------------------------- */

/* Reasons a reply is malformed; the first one is kept. */
struct why {
	char msg[160];
};

static int bad(struct why *w, const char *msg, int v)
{
	if (!w->msg[0])
		snprintf(w->msg, sizeof(w->msg), "%s (%d)", msg, v);
	return 0;	/* keep going: the dump must still end properly */
}

/* Attribute payload lengths by type: 4 (u32), 8 (u64), -1 (string). */
static bool attr_types_ok(const struct nlattr **tb, const int *want, int max,
			  struct why *w)
{
	int t;

	for (t = 2; t <= max; t++) {	/* 0: unspec, 1: pad */
		int len;

		if (!tb[t])
			continue;
		len = anl_attr_len(tb[t]);
		if (want[t] == -1) {
			const char *s = anl_attr_data(tb[t]);

			if (len < 1 || s[len - 1] != '\0')
				return bad(w, "string attribute not NUL-terminated", t);
		} else if (len != want[t]) {
			return bad(w, "attribute of the wrong length, type", t);
		}
	}
	return true;
}

static bool reply_ok(const struct nlmsghdr *nlh, uint8_t cmd, bool multi,
		     struct why *w)
{
	const struct genlmsghdr *g = anl_genl(nlh);

	if (nlh->nlmsg_len < NLMSG_LENGTH(GENL_HDRLEN))
		return bad(w, "reply shorter than the genl header", 0);
	if (g->cmd != cmd)
		return bad(w, "reply with the wrong command", g->cmd);
	if (multi && !(nlh->nlmsg_flags & NLM_F_MULTI))
		return bad(w, "dump reply without NLM_F_MULTI", nlh->nlmsg_flags);
	return true;
}

struct pool_msg {
	bool has_node;
	uint32_t node;
	uint64_t v[ARENA_NL_POOL_MAX + 1];
	bool has[ARENA_NL_POOL_MAX + 1];
};

struct pool_dump {
	int n;
	struct pool_msg m[65];	/* totals + up to 64 nodes */
	struct why why;
};

static const int pool_lens[ARENA_NL_POOL_MAX + 1] = {
	[ARENA_NL_POOL_NODE] = 4,
	[ARENA_NL_POOL_CHUNK_SIZE ... ARENA_NL_POOL_MAX] = 8,
};

static int pool_cb(const struct nlmsghdr *nlh, void *arg)
{
	const struct nlattr *tb[ARENA_NL_POOL_MAX + 1];
	struct pool_dump *d = arg;
	struct pool_msg *m;
	int t, unknown;

	if (!reply_ok(nlh, ARENA_NL_CMD_POOL_GET, true, &d->why))
		return 0;
	if (anl_parse(nlh, GENL_HDRLEN, tb, ARENA_NL_POOL_MAX, &unknown))
		return bad(&d->why, "malformed attributes", 0);
	if (unknown)
		bad(&d->why, "attributes beyond ARENA_NL_POOL_MAX", unknown);
	if (!attr_types_ok(tb, pool_lens, ARENA_NL_POOL_MAX, &d->why))
		return 0;
	if (d->n == (int)(sizeof(d->m) / sizeof(d->m[0])))
		return bad(&d->why, "too many pool messages", d->n);
	m = &d->m[d->n++];
	memset(m, 0, sizeof(*m));
	if (tb[ARENA_NL_POOL_NODE]) {
		m->has_node = true;
		m->node = anl_u32(tb[ARENA_NL_POOL_NODE]);
	}
	for (t = ARENA_NL_POOL_CHUNK_SIZE; t <= ARENA_NL_POOL_MAX; t++) {
		if (tb[t]) {
			m->has[t] = true;
			m->v[t] = anl_u64(tb[t]);
		}
	}
	return 0;
}

struct arena_msg {
	uint32_t pid, id, state;
	uint64_t chunks, bytes, pages;
	char comm[16];
	bool has_all;
};

struct arena_dump {
	int n, cap;
	struct arena_msg *m;
	bool intr;		/* a reply had NLM_F_DUMP_INTR */
	struct why why;
};

static const int arena_lens[ARENA_NL_ARENA_MAX + 1] = {
	[ARENA_NL_ARENA_PID] = 4,
	[ARENA_NL_ARENA_ID] = 4,
	[ARENA_NL_ARENA_CHUNKS] = 8,
	[ARENA_NL_ARENA_BYTES_MAPPED] = 8,
	[ARENA_NL_ARENA_STATE] = 4,
	[ARENA_NL_ARENA_COMM] = -1,
	[ARENA_NL_ARENA_PAGES] = 8,
};

static int arena_cb(const struct nlmsghdr *nlh, void *arg)
{
	const struct nlattr *tb[ARENA_NL_ARENA_MAX + 1];
	struct arena_dump *d = arg;
	struct arena_msg *m;
	int unknown;

	if (!reply_ok(nlh, ARENA_NL_CMD_ARENA_GET, true, &d->why))
		return 0;
	if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
		d->intr = true;
	if (anl_parse(nlh, GENL_HDRLEN, tb, ARENA_NL_ARENA_MAX, &unknown))
		return bad(&d->why, "malformed attributes", 0);
	if (unknown)
		bad(&d->why, "attributes beyond ARENA_NL_ARENA_MAX", unknown);
	if (!attr_types_ok(tb, arena_lens, ARENA_NL_ARENA_MAX, &d->why))
		return 0;
	if (d->n == d->cap) {
		int cap = d->cap ? 2 * d->cap : 64;
		struct arena_msg *n = realloc(d->m, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		d->m = n;
		d->cap = cap;
	}
	m = &d->m[d->n++];
	memset(m, 0, sizeof(*m));
	m->has_all = tb[ARENA_NL_ARENA_PID] && tb[ARENA_NL_ARENA_ID] &&
		     tb[ARENA_NL_ARENA_CHUNKS] && tb[ARENA_NL_ARENA_BYTES_MAPPED] &&
		     tb[ARENA_NL_ARENA_STATE] && tb[ARENA_NL_ARENA_COMM] &&
		     tb[ARENA_NL_ARENA_PAGES];
	if (!m->has_all)
		return bad(&d->why, "arena message without every attribute", 0);
	m->pid = anl_u32(tb[ARENA_NL_ARENA_PID]);
	m->id = anl_u32(tb[ARENA_NL_ARENA_ID]);
	m->chunks = anl_u64(tb[ARENA_NL_ARENA_CHUNKS]);
	m->bytes = anl_u64(tb[ARENA_NL_ARENA_BYTES_MAPPED]);
	m->pages = anl_u64(tb[ARENA_NL_ARENA_PAGES]);
	if (m->bytes != m->pages * PAGE_SZ)
		bad(&d->why, "bytes-mapped is not pages x page size", 0);
	m->state = anl_u32(tb[ARENA_NL_ARENA_STATE]);
	strncpy(m->comm, anl_attr_data(tb[ARENA_NL_ARENA_COMM]),
		sizeof(m->comm) - 1);
	return 0;
}

static void arena_dump_free(struct arena_dump *d)
{
	free(d->m);
	memset(d, 0, sizeof(*d));
}

/* ARENA_GET, of one process if @pid; 0 or -errno. */
static int arena_get(struct anl *nl, uint32_t pid, struct arena_dump *d)
{
	struct anl_msg m;

	memset(d, 0, sizeof(*d));
	anl_msg_init(&m, nl->family, NLM_F_DUMP, ARENA_NL_CMD_ARENA_GET,
		     ARENA_NL_FAMILY_VERSION);
	if (pid)
		anl_put_u32(&m, ARENA_NL_ARENA_PID, pid);
	return anl_talk(nl, &m, arena_cb, d);
}

static const struct arena_msg *arena_find(const struct arena_dump *d,
					  uint32_t pid, uint32_t id)
{
	int i;

	for (i = 0; i < d->n; i++)
		if (d->m[i].pid == pid && d->m[i].id == id)
			return &d->m[i];
	return NULL;
}

struct qchunk {
	uint64_t id, bytes, held_ms;
	uint32_t node, hold;
};

struct qdump {
	int n;
	struct qchunk q[256];
	struct why why;
};

static const int qchunk_lens[ARENA_NL_QCHUNK_MAX + 1] = {
	[ARENA_NL_QCHUNK_ID] = 8,
	[ARENA_NL_QCHUNK_NODE] = 4,
	[ARENA_NL_QCHUNK_BYTES] = 8,
	[ARENA_NL_QCHUNK_HOLD] = 4,
	[ARENA_NL_QCHUNK_HELD_MS] = 8,
};

static int qchunk_parse(const struct nlmsghdr *nlh, struct qchunk *q,
			struct why *w)
{
	const struct nlattr *tb[ARENA_NL_QCHUNK_MAX + 1];
	int t, unknown;

	if (anl_parse(nlh, GENL_HDRLEN, tb, ARENA_NL_QCHUNK_MAX, &unknown))
		return bad(w, "malformed attributes", 0), -1;
	if (unknown)
		bad(w, "attributes beyond ARENA_NL_QCHUNK_MAX", unknown);
	if (!attr_types_ok(tb, qchunk_lens, ARENA_NL_QCHUNK_MAX, w))
		return -1;
	for (t = ARENA_NL_QCHUNK_ID; t <= ARENA_NL_QCHUNK_HELD_MS; t++)
		if (!tb[t])
			return bad(w, "qchunk message without attribute", t), -1;
	q->id = anl_u64(tb[ARENA_NL_QCHUNK_ID]);
	q->node = anl_u32(tb[ARENA_NL_QCHUNK_NODE]);
	q->bytes = anl_u64(tb[ARENA_NL_QCHUNK_BYTES]);
	q->hold = anl_u32(tb[ARENA_NL_QCHUNK_HOLD]);
	q->held_ms = anl_u64(tb[ARENA_NL_QCHUNK_HELD_MS]);
	return 0;
}

static int quarantine_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct qdump *d = arg;
	struct qchunk q;

	if (!reply_ok(nlh, ARENA_NL_CMD_QUARANTINE_GET, true, &d->why))
		return 0;
	if (qchunk_parse(nlh, &q, &d->why))
		return 0;
	if (d->n < (int)(sizeof(d->q) / sizeof(d->q[0])))
		d->q[d->n++] = q;
	return 0;
}

static int quarantine_get(struct anl *nl, struct qdump *d)
{
	memset(d, 0, sizeof(*d));
	return anl_dump(nl, ARENA_NL_CMD_QUARANTINE_GET, quarantine_cb, d);
}

static const struct qchunk *qfind(const struct qdump *d, uint64_t id)
{
	int i;

	for (i = 0; i < d->n; i++)
		if (d->q[i].id == id)
			return &d->q[i];
	return NULL;
}

/* ---- the pool against /sys/kernel/arena ---------------------------------- */

static const struct {
	int attr;
	const char *file;
} pool_sysfs[] = {
	{ ARENA_NL_POOL_CHUNK_SIZE, "chunk_size" },
	{ ARENA_NL_POOL_READY, "chunks_ready" },
	{ ARENA_NL_POOL_IN_USE, "chunks_in_use" },
	{ ARENA_NL_POOL_QUARANTINED, "chunks_quarantined" },
	{ ARENA_NL_POOL_DIRTY, "chunks_dirty" },
	{ ARENA_NL_POOL_TOTAL, "chunks_total" },
	{ ARENA_NL_POOL_ARENAS_CREATED, "arenas_created" },
	{ ARENA_NL_POOL_ARENAS_FREED, "arenas_freed" },
	{ ARENA_NL_POOL_CHUNKS_MAPPED, "chunks_mapped" },
	{ ARENA_NL_POOL_CHUNKS_QUARANTINED, "chunks_held" },
	{ ARENA_NL_POOL_CHUNKS_RELEASED, "chunks_released" },
	{ ARENA_NL_POOL_PAGES_ZEROED, "pages_zeroed" },
	{ ARENA_NL_POOL_SHRINKER_RELEASED, "shrinker_released" },
	{ ARENA_NL_POOL_LIMIT_HITS, "limit_hits" },
	{ ARENA_NL_POOL_UAF_FAULTS, "uaf_faults" },
};

#define NR_POOL_SYSFS	(sizeof(pool_sysfs) / sizeof(pool_sysfs[0]))

/* Every counter that also has a pool attribute, plus arenas_live. */
struct sysfs_snap {
	long v[NR_POOL_SYSFS];
	long live;
};

static void sysfs_snap(struct sysfs_snap *s)
{
	unsigned int i;

	for (i = 0; i < NR_POOL_SYSFS; i++)
		s->v[i] = arena_counter(pool_sysfs[i].file);
	s->live = arena_counter("arenas_live");
}

/*
 * The pool dump in a quiet moment: between two identical reads of the
 * counters. Checks that the totals are the counters, that the totals come
 * first and alone without a node, and that every node message has the
 * state counts. Returns the dump in @d (d->m[0] the totals).
 */
static void pool_matches_sysfs(struct __test_metadata *_metadata,
			       struct anl *nl, struct pool_dump *d)
{
	struct sysfs_snap a, b;
	unsigned int i;
	int tries;

	for (tries = 0; tries < 100; tries++) {
		sysfs_snap(&a);
		memset(d, 0, sizeof(*d));
		ASSERT_EQ(0, anl_dump(nl, ARENA_NL_CMD_POOL_GET, pool_cb, d)) {
			TH_LOG("POOL_GET: %s", nl->extack);
		}
		sysfs_snap(&b);
		if (!memcmp(&a, &b, sizeof(a)))
			break;
		usleep(20000);
	}
	ASSERT_LT(tries, 100) TH_LOG("the counters never stood still");
	ASSERT_EQ('\0', d->why.msg[0]) TH_LOG("POOL_GET reply: %s", d->why.msg);
	ASSERT_GE(d->n, 2) TH_LOG("want the totals and at least one node");
	ASSERT_FALSE(d->m[0].has_node) TH_LOG("the first message has a node");
	for (i = 1; i < (unsigned int)d->n; i++) {
		EXPECT_TRUE(d->m[i].has_node);
		EXPECT_TRUE(d->m[i].has[ARENA_NL_POOL_READY] &&
			    d->m[i].has[ARENA_NL_POOL_IN_USE] &&
			    d->m[i].has[ARENA_NL_POOL_QUARANTINED] &&
			    d->m[i].has[ARENA_NL_POOL_DIRTY] &&
			    d->m[i].has[ARENA_NL_POOL_TOTAL]);
	}
	for (i = 0; i < NR_POOL_SYSFS; i++) {
		int t = pool_sysfs[i].attr;

		if (a.v[i] < 0 || !d->m[0].has[t]) {
			EXPECT_GE(a.v[i], 0)
				TH_LOG("no /sys/kernel/arena/%s", pool_sysfs[i].file);
			EXPECT_TRUE(d->m[0].has[t])
				TH_LOG("the totals lack attribute %d (%s)", t,
				       pool_sysfs[i].file);
			continue;
		}
		EXPECT_EQ(a.v[i], (long)d->m[0].v[t]) {
			TH_LOG("%s is %ld, the pool dump says %lu",
			       pool_sysfs[i].file, a.v[i],
			       (unsigned long)d->m[0].v[t]);
		}
	}
	/* Every attribute of the totals is there. */
	for (i = ARENA_NL_POOL_CHUNK_SIZE; i <= ARENA_NL_POOL_MAX; i++) {
		EXPECT_TRUE(d->m[0].has[i]) TH_LOG("totals lack attribute %u", i);
	}
	EXPECT_EQ(a.live, (long)(d->m[0].v[ARENA_NL_POOL_ARENAS_CREATED] -
				 d->m[0].v[ARENA_NL_POOL_ARENAS_FREED]));
}

/* ---- the fixture --------------------------------------------------------- */

FIXTURE(nl) {
	int fd;
	struct arena_info info;
	char *base;
	size_t cs;
	long pool_low, pool_high, max_mb, held_warn_ms;
	mode_t dev_mode;
	bool dev_mode_changed;
	struct anl nl;
};

FIXTURE_SETUP(nl)
{
	int err;

	self->base = NULL;
	self->nl.fd = -1;
	self->dev_mode_changed = false;
	self->pool_low = arena_param("pool_low");
	self->pool_high = arena_param("pool_high");
	self->max_mb = arena_param("max_mb");
	self->held_warn_ms = arena_param("held_warn_ms");
	self->fd = open(ARENA_DEV, O_RDWR | O_CLOEXEC);
	if (self->fd < 0)
		SKIP(return, "cannot open %s: %s", ARENA_DEV, strerror(errno));
	ASSERT_EQ(0, anl_open(&self->nl));
	err = anl_resolve(&self->nl, ARENA_NL_FAMILY_NAME);
	if (err == -ENOENT)
		SKIP(return, "no generic netlink family \"%s\" (module without netlink)",
		     ARENA_NL_FAMILY_NAME);
	ASSERT_EQ(0, err) TH_LOG("CTRL_CMD_GETFAMILY: %s", strerror(-err));
	ASSERT_EQ(0, arena_get_info(self->fd, &self->info));
	self->cs = self->info.out_chunk_size;
	self->base = arena_map_window(self->fd, self->info.out_window_size);
	ASSERT_NE(NULL, self->base);
}

FIXTURE_TEARDOWN(nl)
{
	anl_close(&self->nl);
	if (self->base)
		munmap(self->base, 2 * self->info.out_window_size);
	if (self->fd >= 0)
		close(self->fd);
	if (self->dev_mode_changed)
		chmod(ARENA_DEV, self->dev_mode);
	if (self->pool_high > 0) {
		arena_param_set("pool_high", 65536);
		arena_param_set("pool_low", self->pool_low);
		arena_param_set("pool_high", self->pool_high);
	}
	if (self->max_mb > 0)
		arena_param_set("max_mb", self->max_mb);
	if (self->held_warn_ms >= 0)
		arena_param_set("held_warn_ms", self->held_warn_ms);
}

/* An arena of @nr chunks, every page touched; returns its id. */
static long arena_touched(FIXTURE_DATA(nl) *self, unsigned int nr,
			  uint64_t *off)
{
	long id = arena_create_id(self->fd);

	if (id <= 0 || arena_chunks(self->fd, id, nr, off))
		return -1;
	for (size_t i = 0; i < nr * self->cs; i += PAGE_SZ)
		self->base[*off + i] = 1;
	return id;
}

/* Stop the pool's refill, so that only the tests move its counters. */
static void pool_quiet(struct __test_metadata *_metadata)
{
	ASSERT_EQ(0, arena_param_set("pool_high", 64));
	ASSERT_EQ(0, arena_param_set("pool_low", 0));
	ASSERT_TRUE(arena_pool_settle(SETTLE_MS));
}

/* ---- the family ---------------------------------------------------------- */

TEST_F(nl, family_has_version_ops_and_events_group)
{
	static const uint8_t dumps[] = {
		ARENA_NL_CMD_POOL_GET, ARENA_NL_CMD_ARENA_GET,
		ARENA_NL_CMD_QUARANTINE_GET,
	};
	unsigned int i;

	EXPECT_EQ(ARENA_NL_FAMILY_VERSION, self->nl.version);
	EXPECT_NE(0, self->nl.events_grp);
	for (i = 0; i < sizeof(dumps); i++) {
		EXPECT_TRUE(self->nl.op_known[dumps[i]]);
		EXPECT_TRUE(self->nl.op_flags[dumps[i]] & GENL_CMD_CAP_DUMP);
		EXPECT_FALSE(self->nl.op_flags[dumps[i]] & GENL_CMD_CAP_DO);
	}
	/* Notifications are not requests. */
	EXPECT_FALSE(self->nl.op_known[ARENA_NL_CMD_UAF_NTF]);
	EXPECT_FALSE(self->nl.op_known[ARENA_NL_CMD_HELD_NTF]);
}

/* ---- the pool dump --------------------------------------------------------- */

TEST_F(nl, pool_totals_are_the_sysfs_counters)
{
	struct pool_dump d;

	pool_quiet(_metadata);
	pool_matches_sysfs(_metadata, &self->nl, &d);
	EXPECT_EQ(self->cs, d.m[0].v[ARENA_NL_POOL_CHUNK_SIZE]);
	EXPECT_EQ(d.m[0].v[ARENA_NL_POOL_TOTAL],
		  d.m[0].v[ARENA_NL_POOL_READY] + d.m[0].v[ARENA_NL_POOL_IN_USE] +
		  d.m[0].v[ARENA_NL_POOL_QUARANTINED] +
		  d.m[0].v[ARENA_NL_POOL_DIRTY]);
}

TEST_F(nl, pool_nodes_add_up_to_the_totals)
{
	static const int states[] = {
		ARENA_NL_POOL_READY, ARENA_NL_POOL_IN_USE,
		ARENA_NL_POOL_QUARANTINED, ARENA_NL_POOL_DIRTY,
		ARENA_NL_POOL_TOTAL,
	};
	static const char *const node_files[4] = {
		"ready", "in_use", "quarantined", "dirty",
	};
	uint64_t sum[ARENA_NL_POOL_MAX + 1] = { 0 };
	struct pool_dump d;
	char dir[64];
	uint64_t off;
	long id;
	int i, j;

	pool_quiet(_metadata);
	/* Something in use, so that the sums are not all zero. */
	id = arena_touched(self, 2, &off);
	ASSERT_GT(id, 0);
	pool_matches_sysfs(_metadata, &self->nl, &d);
	for (i = 1; i < d.n; i++) {
		const struct pool_msg *m = &d.m[i];

		for (j = 1; j < i; j++) {
			EXPECT_NE(m->node, d.m[j].node) TH_LOG("node %u twice", m->node);
		}
		for (j = 0; j < (int)ARRAY_SIZE(states); j++)
			sum[states[j]] += m->v[states[j]];
		EXPECT_EQ(m->v[ARENA_NL_POOL_TOTAL],
			  m->v[ARENA_NL_POOL_READY] + m->v[ARENA_NL_POOL_IN_USE] +
			  m->v[ARENA_NL_POOL_QUARANTINED] +
			  m->v[ARENA_NL_POOL_DIRTY]) TH_LOG("node %u", m->node);
		/* Per node: the state counts only. */
		EXPECT_FALSE(m->has[ARENA_NL_POOL_ARENAS_CREATED]);
		EXPECT_FALSE(m->has[ARENA_NL_POOL_UAF_FAULTS]);
		/* The same as /sys/kernel/arena/node<N>/ (the pool is quiet). */
		snprintf(dir, sizeof(dir), "/sys/kernel/arena/node%u", m->node);
		for (j = 0; j < (int)ARRAY_SIZE(node_files); j++) {
			EXPECT_EQ(read_long_file(dir, node_files[j]),
				  (long)m->v[states[j]])
				TH_LOG("%s/%s", dir, node_files[j]);
		}
	}
	for (j = 0; j < (int)ARRAY_SIZE(states); j++) {
		EXPECT_EQ(d.m[0].v[states[j]], sum[states[j]])
			TH_LOG("attribute %d: totals %lu, nodes %lu", states[j],
			       (unsigned long)d.m[0].v[states[j]],
			       (unsigned long)sum[states[j]]);
	}
	EXPECT_GE(sum[ARENA_NL_POOL_IN_USE], 2);
	EXPECT_EQ(0, arena_free_id(self->fd, id));
}

/*
 * Each step moves the counters it should, in sysfs and in the dump alike:
 * create (arenas_created, arenas_live, chunks_in_use, chunks_mapped), free
 * (arenas_freed), zeroing by the worker (pages_zeroed), a use-after-free
 * (uaf_faults), a wild access (wild_faults only), drain (chunks_released)
 * and the global cap (limit_hits).
 */
TEST_F(nl, counters_move_as_documented)
{
	long zeroed, zeroed_inline, wild, released, ready, dirty;
	uint64_t pages = self->cs / PAGE_SZ, off, off2;
	struct pool_dump d0, d;
	struct sysfs_snap s0;
	void *fault = NULL;
	char v;
	long id, id2;

#define P(d, x)	((long)(d).m[0].v[ARENA_NL_POOL_##x])
	pool_quiet(_metadata);
	ASSERT_EQ(0, arena_drain());
	ASSERT_TRUE(arena_pool_settle(SETTLE_MS));
	pool_matches_sysfs(_metadata, &self->nl, &d0);
	sysfs_snap(&s0);
	zeroed = arena_counter("chunks_zeroed");
	zeroed_inline = arena_counter("chunks_zeroed_inline");

	id = arena_touched(self, 3, &off);
	ASSERT_GT(id, 0);
	pool_matches_sysfs(_metadata, &self->nl, &d);
	EXPECT_EQ(P(d0, ARENAS_CREATED) + 1, P(d, ARENAS_CREATED));
	EXPECT_EQ(P(d0, ARENAS_FREED), P(d, ARENAS_FREED));
	EXPECT_EQ(s0.live + 1, arena_counter("arenas_live"));
	EXPECT_EQ(P(d0, IN_USE) + 3, P(d, IN_USE));
	EXPECT_EQ(P(d0, CHUNKS_MAPPED) + 3, P(d, CHUNKS_MAPPED));

	ASSERT_EQ(0, arena_free_id(self->fd, id));
	ASSERT_TRUE(arena_pool_settle(SETTLE_MS));
	pool_matches_sysfs(_metadata, &self->nl, &d);
	EXPECT_EQ(P(d0, ARENAS_FREED) + 1, P(d, ARENAS_FREED));
	EXPECT_EQ(s0.live, arena_counter("arenas_live"));
	EXPECT_EQ(P(d0, IN_USE), P(d, IN_USE));
	/* The pool was drained: the worker zeroed the three into ready. */
	EXPECT_EQ(P(d0, READY) + 3, P(d, READY));
	EXPECT_EQ((arena_counter("chunks_zeroed") - zeroed +
		   arena_counter("chunks_zeroed_inline") - zeroed_inline) *
		  (long)pages, P(d, PAGES_ZEROED) - P(d0, PAGES_ZEROED));
	EXPECT_LE(P(d0, PAGES_ZEROED) + 3 * (long)pages, P(d, PAGES_ZEROED));

	/* A use-after-free counts in uaf_faults, a wild access does not. */
	wild = arena_counter("wild_faults");
	EXPECT_FALSE(try_read(self->base + off + 100, &v, &fault));
	EXPECT_EQ(self->base + off + 100, fault);
	EXPECT_FALSE(try_read(self->base + self->info.out_window_size - 64, &v,
			      &fault));
	pool_matches_sysfs(_metadata, &self->nl, &d);
	EXPECT_EQ(P(d0, UAF_FAULTS) + 1, P(d, UAF_FAULTS));
	EXPECT_EQ(wild + 1, arena_counter("wild_faults"));

	/* Drain: every ready and dirty chunk goes back. */
	ready = arena_counter("chunks_ready");
	dirty = arena_counter("chunks_dirty");
	released = arena_counter("chunks_released");
	ASSERT_EQ(0, arena_drain());
	pool_matches_sysfs(_metadata, &self->nl, &d);
	EXPECT_EQ(released + ready + dirty, P(d, CHUNKS_RELEASED));
	EXPECT_EQ(0, P(d, READY));

	/* The cap: room for what is held plus one chunk. */
	ASSERT_EQ(0, arena_param_set("max_mb",
				     (arena_counter("chunks_total") + 1) *
				     (self->cs >> 20) ?: 1));
	id2 = arena_create_id(self->fd);
	ASSERT_GT(id2, 0);
	if (self->cs >= (1UL << 20)) {
		EXPECT_EQ(-ENOMEM, arena_chunks(self->fd, id2, 2, &off2));
		pool_matches_sysfs(_metadata, &self->nl, &d);
		EXPECT_EQ(P(d0, LIMIT_HITS) + 1, P(d, LIMIT_HITS));
	}
	EXPECT_EQ(0, arena_free_id(self->fd, id2));
#undef P
}

/* ---- the arena dump ------------------------------------------------------ */

TEST_F(nl, arena_dump_lists_this_process)
{
	static const unsigned int nr[] = { 1, 2, 3 };
	struct arena_dump d;
	uint32_t id[3];
	char comm[16];
	uint64_t off;
	int i;

	own_comm(comm);
	for (i = 0; i < 3; i++) {
		long a = arena_create_id(self->fd);

		ASSERT_GT(a, 0);
		ASSERT_EQ(0, arena_chunks(self->fd, a, nr[i], &off));
		id[i] = a;
	}
	/* One more, freed: it must not be listed. */
	{
		long gone = arena_create_id(self->fd);

		ASSERT_GT(gone, 0);
		ASSERT_EQ(0, arena_free_id(self->fd, gone));
	}

	ASSERT_EQ(0, arena_get(&self->nl, getpid(), &d));
	EXPECT_EQ('\0', d.why.msg[0]) TH_LOG("ARENA_GET reply: %s", d.why.msg);
	EXPECT_EQ(3, d.n);
	for (i = 0; i < 3; i++) {
		const struct arena_msg *m = arena_find(&d, getpid(), id[i]);

		ASSERT_NE(NULL, m) TH_LOG("arena %u not listed", id[i]);
		EXPECT_EQ(nr[i], m->chunks);
		EXPECT_EQ(nr[i] * self->cs, m->bytes);
		EXPECT_EQ(ARENA_NL_ARENA_LIVE, m->state);
		EXPECT_STREQ(comm, m->comm);
	}
	for (i = 0; i < d.n; i++)
		EXPECT_EQ((uint32_t)getpid(), d.m[i].pid);
	arena_dump_free(&d);

	/* Root's unfiltered dump has them too. */
	ASSERT_EQ(0, arena_get(&self->nl, 0, &d));
	for (i = 0; i < 3; i++)
		EXPECT_NE(NULL, arena_find(&d, getpid(), id[i]));
	arena_dump_free(&d);

	/* A freed arena leaves the dump; an arena's new chunks show. */
	ASSERT_EQ(0, arena_free_id(self->fd, id[1]));
	ASSERT_EQ(0, arena_chunks(self->fd, id[0], 4, &off));
	ASSERT_EQ(0, arena_get(&self->nl, getpid(), &d));
	EXPECT_EQ(2, d.n);
	EXPECT_EQ(NULL, arena_find(&d, getpid(), id[1]));
	ASSERT_NE(NULL, arena_find(&d, getpid(), id[0]));
	EXPECT_EQ(5, arena_find(&d, getpid(), id[0])->chunks);
	arena_dump_free(&d);

	/* Closing the window frees the rest. */
	munmap(self->base, 2 * self->info.out_window_size);
	self->base = NULL;
	close(self->fd);
	self->fd = -1;
	ASSERT_EQ(0, arena_get(&self->nl, getpid(), &d));
	EXPECT_EQ(0, d.n);
	arena_dump_free(&d);
}

/*
 * Small runs count at page granularity: an arena with small runs of 3 and
 * 5 pages and one whole chunk reports 1 chunk, 3 + 5 + 512 pages, and the
 * bytes of all of them; after a reset with a one-page run, one page.
 */
TEST_F(nl, arena_dump_counts_small_runs_in_pages)
{
	struct arena_alloc al = { .size = sizeof(al) };
	uint64_t cpages = self->cs / PAGE_SZ;
	const struct arena_msg *m;
	struct arena_dump d;
	uint32_t id;

	al.flags = ARENA_ALLOC_CREATE;
	al.length = 3 * PAGE_SZ;
	ASSERT_EQ(0, arena_ioc(self->fd, ARENA_IOC_ALLOC, &al));
	id = al.arena_id;
	al.flags = 0;
	al.length = 5 * PAGE_SZ;
	ASSERT_EQ(0, arena_ioc(self->fd, ARENA_IOC_ALLOC, &al));
	al.length = self->cs;
	ASSERT_EQ(0, arena_ioc(self->fd, ARENA_IOC_ALLOC, &al));

	ASSERT_EQ(0, arena_get(&self->nl, getpid(), &d));
	EXPECT_EQ('\0', d.why.msg[0]) TH_LOG("ARENA_GET reply: %s", d.why.msg);
	m = arena_find(&d, getpid(), id);
	ASSERT_NE(NULL, m);
	EXPECT_EQ(1, m->chunks);
	EXPECT_EQ(8 + cpages, m->pages);
	EXPECT_EQ((8 + cpages) * PAGE_SZ, m->bytes);
	arena_dump_free(&d);

	al.flags = ARENA_ALLOC_RESET;
	al.length = PAGE_SZ;
	ASSERT_EQ(0, arena_ioc(self->fd, ARENA_IOC_ALLOC, &al));
	ASSERT_EQ(0, arena_get(&self->nl, getpid(), &d));
	m = arena_find(&d, getpid(), id);
	ASSERT_NE(NULL, m);
	EXPECT_EQ(0, m->chunks);
	EXPECT_EQ(1, m->pages);
	EXPECT_EQ(PAGE_SZ, m->bytes);
	arena_dump_free(&d);
	EXPECT_EQ(0, arena_free_id(self->fd, id));
}

/* A child with two arenas of its own, waiting for a byte on @go. */
static pid_t child_with_arenas(int go, int res, unsigned int nr)
{
	pid_t pid = fork();

	if (pid)
		return pid;
	{
		int fd = open(ARENA_DEV, O_RDWR);
		uint32_t ids[2];
		uint64_t off;
		char c;

		for (int i = 0; i < 2; i++) {
			long id = fd < 0 ? -1 : arena_create_id(fd);

			if (id <= 0 || arena_chunks(fd, id, nr, &off))
				_exit(1);
			ids[i] = id;
		}
		if (write(res, ids, sizeof(ids)) != sizeof(ids))
			_exit(2);
		if (read(go, &c, 1) < 0)
			_exit(3);
		_exit(0);
	}
}

TEST_F(nl, arena_dump_pid_filter)
{
	int go[2], res[2], status, i;
	struct arena_dump d;
	uint32_t mine, theirs[2];
	uint64_t off;
	pid_t child;
	long id;

	id = arena_create_id(self->fd);
	ASSERT_GT(id, 0);
	ASSERT_EQ(0, arena_chunks(self->fd, id, 1, &off));
	mine = id;
	ASSERT_EQ(0, pipe(go));
	ASSERT_EQ(0, pipe(res));
	child = child_with_arenas(go[0], res[1], 2);
	ASSERT_GE(child, 0);
	ASSERT_EQ(sizeof(theirs), read(res[0], theirs, sizeof(theirs)));

	ASSERT_EQ(0, arena_get(&self->nl, child, &d));
	EXPECT_EQ('\0', d.why.msg[0]) TH_LOG("%s", d.why.msg);
	EXPECT_EQ(2, d.n);
	for (i = 0; i < 2; i++) {
		const struct arena_msg *m = arena_find(&d, child, theirs[i]);

		ASSERT_NE(NULL, m);
		EXPECT_EQ(2, m->chunks);
	}
	arena_dump_free(&d);

	ASSERT_EQ(0, arena_get(&self->nl, getpid(), &d));
	EXPECT_EQ(1, d.n);
	EXPECT_NE(NULL, arena_find(&d, getpid(), mine));
	arena_dump_free(&d);

	/* Everything: both processes. */
	ASSERT_EQ(0, arena_get(&self->nl, 0, &d));
	EXPECT_NE(NULL, arena_find(&d, getpid(), mine));
	EXPECT_NE(NULL, arena_find(&d, child, theirs[0]));
	EXPECT_NE(NULL, arena_find(&d, child, theirs[1]));
	arena_dump_free(&d);

	ASSERT_EQ(1, write(go[1], "x", 1));
	ASSERT_EQ(child, waitpid(child, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status));

	/* Gone with its process; a pid without arenas dumps nothing. */
	ASSERT_EQ(0, arena_get(&self->nl, child, &d));
	EXPECT_EQ(0, d.n);
	arena_dump_free(&d);
	ASSERT_EQ(0, arena_get(&self->nl, 0x3fffffff, &d));
	EXPECT_EQ(0, d.n);
	arena_dump_free(&d);
}

/* More arenas than one dump skb holds: each exactly once. */
TEST_F(nl, arena_dump_spans_many_messages)
{
	enum { N = 700 };
	static uint32_t ids[N];
	struct arena_dump d;
	int i, j, seen;

	for (i = 0; i < N; i++) {
		long id = arena_create_id(self->fd);

		ASSERT_GT(id, 0);
		ids[i] = id;
	}
	ASSERT_EQ(0, arena_get(&self->nl, getpid(), &d));
	EXPECT_EQ('\0', d.why.msg[0]) TH_LOG("%s", d.why.msg);
	EXPECT_EQ(N, d.n);
	for (i = 0, seen = 0; i < N; i++) {
		int hits = 0;

		for (j = 0; j < d.n; j++)
			hits += d.m[j].id == ids[i];
		EXPECT_EQ(1, hits) TH_LOG("arena %u listed %d times", ids[i], hits);
		seen += hits == 1;
	}
	for (j = 0; j < d.n; j++)
		EXPECT_EQ(0, d.m[j].chunks);
	EXPECT_EQ(N, seen);
	arena_dump_free(&d);
}

/*
 * A dump that spans several messages while another process's arenas come
 * and go: every arena that stays is listed exactly once, or the dump says
 * it was interrupted (NLM_F_DUMP_INTR), as netlink dumps do.
 */
TEST_F(nl, arena_dump_while_others_come_and_go)
{
	enum { N = 600, ROUNDS = 20 };
	static uint32_t ids[N];
	int ready[2], status, r, i, j, bad = 0, intr = 0;
	struct arena_dump d;
	struct arena_info info;
	pid_t child;
	char c;
	int fd;

	ASSERT_EQ(0, pipe(ready));
	child = fork();
	ASSERT_GE(child, 0);
	if (child == 0) {
		/* Its window comes before ours in the kernel's list. */
		int cfd = open(ARENA_DEV, O_RDWR);
		uint32_t live[64] = { 0 };
		unsigned int k = 0;

		if (cfd < 0 || write(ready[1], "x", 1) != 1)
			_exit(1);
		for (;;) {
			long id;

			if (live[k % 64])
				arena_free_id(cfd, live[k % 64]);
			id = arena_create_id(cfd);
			live[k % 64] = id > 0 ? id : 0;
			k += 7;
		}
	}
	ASSERT_EQ(1, read(ready[0], &c, 1));
	/* Our arenas, in a window opened after the child's. */
	fd = open(ARENA_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, arena_get_info(fd, &info));
	for (i = 0; i < N; i++) {
		long id = arena_create_id(fd);

		ASSERT_GT(id, 0);
		ids[i] = id;
	}
	for (r = 0; r < ROUNDS; r++) {
		ASSERT_EQ(0, arena_get(&self->nl, 0, &d));
		EXPECT_EQ('\0', d.why.msg[0]) TH_LOG("%s", d.why.msg);
		intr += d.intr;
		for (i = 0; i < N && !d.intr; i++) {
			int hits = 0;

			for (j = 0; j < d.n; j++)
				hits += d.m[j].pid == (uint32_t)getpid() &&
					d.m[j].id == ids[i];
			if (hits != 1) {
				if (!bad)
					TH_LOG("round %d: arena %u listed %d times",
					       r, ids[i], hits);
				bad++;
			}
		}
		arena_dump_free(&d);
	}
	kill(child, SIGKILL);
	waitpid(child, &status, 0);
	close(fd);
	TH_LOG("%d of %d dumps flagged NLM_F_DUMP_INTR", intr, ROUNDS);
	EXPECT_EQ(0, bad) TH_LOG("%d stable arenas missed or repeated, no NLM_F_DUMP_INTR",
				 bad);
}

/* ---- who sees what ----------------------------------------------------- */

struct unpriv_result {
	int step;		/* 0: all done, else the step that failed */
	int err;
	uint32_t own_id;
	int n_all;		/* arenas in the unfiltered dump */
	int own_seen;		/* of those, our own arena */
	int foreign;		/* of those, another process's */
	int n_parent;		/* the dump filtered on the parent */
	int n_self;		/* the dump filtered on ourselves */
	int pool_err;		/* the pool and quarantine dumps */
	int quarantine_err;
	int join_err;		/* joining the events group */
};

static void __attribute__((noreturn))
unpriv_child(int res, int go, pid_t parent)
{
	struct unpriv_result r = { 0 };
	struct arena_dump d;
	struct anl nl;
	uint64_t off;
	long id;
	int fd, i;

	r.step = 1;
	if (setgroups(0, NULL) || setgid(NOBODY) || setuid(NOBODY))
		goto out;
	r.step = 2;
	fd = open(ARENA_DEV, O_RDWR);
	id = fd < 0 ? -errno : arena_create_id(fd);
	if (id <= 0 || arena_chunks(fd, id, 1, &off)) {
		r.err = id <= 0 ? (int)id : -errno;
		goto out;
	}
	r.own_id = id;
	r.step = 3;
	r.err = anl_open(&nl);
	if (r.err)
		goto out;
	r.err = anl_resolve(&nl, ARENA_NL_FAMILY_NAME);
	if (r.err)
		goto out;
	r.step = 4;
	r.err = arena_get(&nl, 0, &d);
	if (r.err)
		goto out;
	r.n_all = d.n;
	for (i = 0; i < d.n; i++) {
		if (d.m[i].pid == (uint32_t)getpid() && d.m[i].id == r.own_id)
			r.own_seen++;
		else if (d.m[i].pid != (uint32_t)getpid())
			r.foreign++;
	}
	arena_dump_free(&d);
	r.step = 5;
	r.err = arena_get(&nl, parent, &d);
	if (r.err)
		goto out;
	r.n_parent = d.n;
	arena_dump_free(&d);
	r.err = arena_get(&nl, getpid(), &d);
	if (r.err)
		goto out;
	r.n_self = d.n;
	arena_dump_free(&d);
	r.pool_err = anl_dump(&nl, ARENA_NL_CMD_POOL_GET, NULL, NULL);
	r.quarantine_err = anl_dump(&nl, ARENA_NL_CMD_QUARANTINE_GET, NULL,
				    NULL);
	r.join_err = anl_join(&nl, nl.events_grp);
	r.step = 0;
out:
	if (write(res, &r, sizeof(r)) != sizeof(r))
		_exit(2);
	/* Keep the arena until the parent has looked at it. */
	{
		char c;

		_exit(read(go, &c, 1) < 0 ? 3 : 0);
	}
}

TEST_F(nl, unprivileged_sees_only_its_own_user)
{
	struct unpriv_result r;
	int res[2], go[2], status;
	struct arena_dump d;
	struct stat st;
	uint64_t off;
	pid_t child, parent = getpid();
	long id;

	/* Root's arena, which uid 65534 must not see. */
	id = arena_create_id(self->fd);
	ASSERT_GT(id, 0);
	ASSERT_EQ(0, arena_chunks(self->fd, id, 1, &off));
	/* Let uid 65534 open the device (mode restored by the teardown). */
	ASSERT_EQ(0, stat(ARENA_DEV, &st));
	self->dev_mode = st.st_mode & 07777;
	self->dev_mode_changed = true;
	ASSERT_EQ(0, chmod(ARENA_DEV, 0666));

	ASSERT_EQ(0, pipe(res));
	ASSERT_EQ(0, pipe(go));
	child = fork();
	ASSERT_GE(child, 0);
	if (child == 0) {
		close(res[0]);
		close(go[1]);
		unpriv_child(res[1], go[0], parent);
	}
	close(res[1]);
	close(go[0]);
	ASSERT_EQ(sizeof(r), read(res[0], &r, sizeof(r)));
	ASSERT_EQ(0, r.step) TH_LOG("step %d failed: %s", r.step,
				    strerror(-r.err));

	EXPECT_EQ(1, r.own_seen) TH_LOG("uid %d does not see its own arena",
					NOBODY);
	EXPECT_EQ(0, r.foreign) TH_LOG("uid %d sees %d arenas of other processes",
				       NOBODY, r.foreign);
	EXPECT_EQ(0, r.n_parent) TH_LOG("uid %d sees root's arenas by pid",
					NOBODY);
	EXPECT_EQ(1, r.n_self);
	EXPECT_EQ(0, r.pool_err);
	EXPECT_EQ(0, r.quarantine_err);
	EXPECT_EQ(-EPERM, r.join_err)
		TH_LOG("uid %d joined the events group: %s", NOBODY,
		       r.join_err ? strerror(-r.join_err) : "allowed");

	/* Root sees the child's arena. */
	ASSERT_EQ(0, arena_get(&self->nl, child, &d));
	EXPECT_EQ(1, d.n);
	EXPECT_NE(NULL, arena_find(&d, child, r.own_id));
	arena_dump_free(&d);

	ASSERT_EQ(1, write(go[1], "x", 1));
	ASSERT_EQ(child, waitpid(child, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status));
}

/* ---- the quarantine ------------------------------------------------------- */

/* The quarantine once nothing in it has moved for 300 ms. */
static long quarantined_settled(void)
{
	uint64_t end = now_ms() + 3000, still = now_ms();
	long v = arena_counter("chunks_quarantined"), w;

	while (now_ms() < end && now_ms() - still < 300) {
		usleep(20000);
		w = arena_counter("chunks_quarantined");
		if (w != v) {
			v = w;
			still = now_ms();
		}
	}
	return v;
}

/*
 * One chunk with two of its pages in a pipe (vmsplice without
 * SPLICE_F_GIFT: the pipe holds references), then freed. Returns the id
 * of the arena it was in, 0 on failure.
 */
static long spliced_and_freed(FIXTURE_DATA(nl) *self, int pfd[2])
{
	struct iovec iov[2];
	uint64_t off;
	long id = arena_touched(self, 1, &off);

	if (id <= 0 || pipe(pfd))
		return 0;
	memset(self->base + off, 0x5a, PAGE_SZ);
	iov[0] = (struct iovec){ self->base + off, PAGE_SZ };
	iov[1] = (struct iovec){ self->base + off + self->cs / 2, PAGE_SZ };
	if (vmsplice(pfd[1], iov, 2, 0) != 2 * (ssize_t)PAGE_SZ)
		return 0;
	return arena_free_id(self->fd, id) ? 0 : id;
}

static void drain_pipe(int pfd[2])
{
	static char buf[2 * PAGE_SZ];
	size_t done = 0;
	ssize_t n;

	while (done < sizeof(buf) &&
	       (n = read(pfd[0], buf + done, sizeof(buf) - done)) > 0)
		done += n;
	close(pfd[0]);
	close(pfd[1]);
}

/* The chunk in @after and not in @before; NULL unless exactly one. */
static const struct qchunk *qnew(const struct qdump *before,
				 const struct qdump *after)
{
	const struct qchunk *found = NULL;
	int i;

	for (i = 0; i < after->n; i++) {
		if (qfind(before, after->q[i].id))
			continue;
		if (found)
			return NULL;
		found = &after->q[i];
	}
	return found;
}

TEST_F(nl, quarantine_dump_shows_pipe_held_chunk)
{
	struct qdump before, after, later;
	const struct qchunk *q;
	struct pool_dump d;
	long q0, held0;
	uint64_t id;
	int pfd[2];
	bool node_ok = false;
	int i;

	q0 = quarantined_settled();
	held0 = arena_counter("chunks_held");
	ASSERT_EQ(0, quarantine_get(&self->nl, &before));
	EXPECT_EQ('\0', before.why.msg[0]) TH_LOG("%s", before.why.msg);
	EXPECT_EQ(q0, before.n);

	ASSERT_NE(0, spliced_and_freed(self, pfd));
	EXPECT_TRUE(arena_counter_wait("chunks_quarantined", q0 + 1, 2000));
	EXPECT_EQ(held0 + 1, arena_counter("chunks_held"));
	ASSERT_EQ(0, quarantine_get(&self->nl, &after));
	EXPECT_EQ('\0', after.why.msg[0]) TH_LOG("%s", after.why.msg);
	q = qnew(&before, &after);
	ASSERT_NE(NULL, q) TH_LOG("want one new quarantined chunk: %d before, %d after",
				  before.n, after.n);
	id = q->id;
	EXPECT_EQ(ARENA_NL_HELD_REFERENCED, q->hold);
	EXPECT_EQ(self->cs, q->bytes);
	EXPECT_LT(q->held_ms, 10000);

	/* Its node is one the pool dump knows, with a quarantined chunk. */
	pool_matches_sysfs(_metadata, &self->nl, &d);
	for (i = 1; i < d.n; i++)
		if (d.m[i].node == q->node)
			node_ok = d.m[i].v[ARENA_NL_POOL_QUARANTINED] >= 1;
	EXPECT_TRUE(node_ok) TH_LOG("node %u", q->node);

	/* Still held a while later, for longer. */
	usleep(300000);
	ASSERT_EQ(0, quarantine_get(&self->nl, &later));
	q = qfind(&later, id);
	ASSERT_NE(NULL, q);
	EXPECT_GE(q->held_ms, qfind(&after, id)->held_ms + 250);
	EXPECT_EQ(ARENA_NL_HELD_REFERENCED, q->hold);

	/* Read the pipe: the chunk leaves the quarantine. */
	drain_pipe(pfd);
	EXPECT_TRUE(arena_counter_wait("chunks_quarantined", q0, 2000));
	ASSERT_EQ(0, quarantine_get(&self->nl, &later));
	EXPECT_EQ(NULL, qfind(&later, id));
	EXPECT_EQ(q0, later.n);
}

/* ---- events ------------------------------------------------------------- */

struct uaf_event {
	uint64_t want_addr;	/* wait for the event with this address */
	bool found;
	uint32_t pid, arena_id, freed_by;
	uint64_t addr, offset, freed_ns_ago;
	char comm[16];
	int others;		/* events for other addresses */
	struct why why;
};

static const int uaf_lens[ARENA_NL_UAF_MAX + 1] = {
	[ARENA_NL_UAF_PID] = 4,
	[ARENA_NL_UAF_COMM] = -1,
	[ARENA_NL_UAF_ADDR] = 8,
	[ARENA_NL_UAF_ARENA_ID] = 4,
	[ARENA_NL_UAF_OFFSET] = 8,
	[ARENA_NL_UAF_FREED_NS_AGO] = 8,
	[ARENA_NL_UAF_FREED_BY_PID] = 4,
	[ARENA_NL_UAF_VIA_PID] = 4,
	[ARENA_NL_UAF_VIA_COMM] = -1,
};

static int uaf_cb(const struct nlmsghdr *nlh, void *arg)
{
	const struct nlattr *tb[ARENA_NL_UAF_MAX + 1];
	struct uaf_event *e = arg;
	int t;

	if (anl_genl(nlh)->cmd != ARENA_NL_CMD_UAF_NTF)
		return 0;
	if (!reply_ok(nlh, ARENA_NL_CMD_UAF_NTF, false, &e->why) ||
	    anl_parse(nlh, GENL_HDRLEN, tb, ARENA_NL_UAF_MAX, NULL) ||
	    !attr_types_ok(tb, uaf_lens, ARENA_NL_UAF_MAX, &e->why))
		return bad(&e->why, "malformed UAF event", 0), 1;
	for (t = ARENA_NL_UAF_PID; t <= ARENA_NL_UAF_FREED_BY_PID; t++)
		if (!tb[t])
			return bad(&e->why, "UAF event without attribute", t), 1;
	if (anl_u64(tb[ARENA_NL_UAF_ADDR]) != e->want_addr) {
		e->others++;
		return 0;
	}
	e->found = true;
	e->pid = anl_u32(tb[ARENA_NL_UAF_PID]);
	e->addr = anl_u64(tb[ARENA_NL_UAF_ADDR]);
	e->arena_id = anl_u32(tb[ARENA_NL_UAF_ARENA_ID]);
	e->offset = anl_u64(tb[ARENA_NL_UAF_OFFSET]);
	e->freed_ns_ago = anl_u64(tb[ARENA_NL_UAF_FREED_NS_AGO]);
	e->freed_by = anl_u32(tb[ARENA_NL_UAF_FREED_BY_PID]);
	strncpy(e->comm, anl_attr_data(tb[ARENA_NL_UAF_COMM]),
		sizeof(e->comm) - 1);
	return 1;
}

TEST_F(nl, uaf_event_names_address_and_arena)
{
	struct uaf_event e = { 0 };
	struct anl quiet;
	uint64_t off, rel = 2 * self->cs / 3 + 0x123;
	void *fault = NULL;
	char comm[16], v;
	long id, uaf0;
	char *p;
	int err;

	own_comm(comm);
	ASSERT_EQ(0, anl_join(&self->nl, self->nl.events_grp));
	/* A second socket, not in the group: it gets nothing. */
	ASSERT_EQ(0, anl_open(&quiet));
	quiet.family = self->nl.family;

	id = arena_touched(self, 2, &off);
	ASSERT_GT(id, 0);
	ASSERT_EQ(0, arena_free_id(self->fd, id));
	usleep(2000);
	p = self->base + off + rel;
	uaf0 = arena_counter("uaf_faults");
	EXPECT_FALSE(try_read(p, &v, &fault));
	EXPECT_EQ(p, fault);

	e.want_addr = (uintptr_t)p;
	err = anl_wait_event(&self->nl, EVENT_MS, uaf_cb, &e);
	EXPECT_EQ('\0', e.why.msg[0]) TH_LOG("%s", e.why.msg);
	ASSERT_EQ(1, err) TH_LOG("no UAF event for %p: %s (%d other events)",
				 p, strerror(-err), e.others);
	EXPECT_TRUE(e.found);
	EXPECT_EQ((uintptr_t)p, e.addr);
	EXPECT_EQ((uint32_t)id, e.arena_id);
	EXPECT_EQ(rel, e.offset);
	EXPECT_EQ((uint32_t)getpid(), e.pid);
	EXPECT_EQ((uint32_t)getpid(), e.freed_by);
	EXPECT_STREQ(comm, e.comm);
	EXPECT_GE(e.freed_ns_ago, 2000000);
	EXPECT_LT(e.freed_ns_ago, 30000000000ULL);
	EXPECT_EQ(uaf0 + 1, arena_counter("uaf_faults"));

	/* A wild access is no use-after-free: no event. */
	memset(&e, 0, sizeof(e));
	p = self->base + self->info.out_window_size - self->cs;
	EXPECT_FALSE(try_read(p, &v, &fault));
	e.want_addr = (uintptr_t)p;
	EXPECT_EQ(-ETIMEDOUT, anl_wait_event(&self->nl, 300, uaf_cb, &e));
	EXPECT_FALSE(e.found);

	EXPECT_EQ(-ETIMEDOUT, anl_wait_event(&quiet, 200, uaf_cb, &e));
	anl_close(&quiet);
}

struct held_event {
	uint64_t want_id;	/* 0: any chunk */
	struct qchunk q;
	int count;		/* events for want_id */
	struct why why;
};

static int held_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct held_event *e = arg;
	struct qchunk q;

	if (anl_genl(nlh)->cmd != ARENA_NL_CMD_HELD_NTF)
		return 0;
	if (!reply_ok(nlh, ARENA_NL_CMD_HELD_NTF, false, &e->why) ||
	    qchunk_parse(nlh, &q, &e->why))
		return 1;
	if (e->want_id && q.id != e->want_id)
		return 0;
	e->q = q;
	e->count++;
	return 1;
}

TEST_F(nl, held_event_after_held_warn_ms)
{
	struct qdump before, after;
	struct held_event e = { 0 };
	const struct qchunk *q;
	int pfd[2], err;
	long q0;

	if (self->held_warn_ms < 0)
		SKIP(return, "no held_warn_ms parameter");
	ASSERT_EQ(0, arena_param_set("held_warn_ms", 400));
	ASSERT_EQ(0, anl_join(&self->nl, self->nl.events_grp));
	q0 = quarantined_settled();
	ASSERT_EQ(0, quarantine_get(&self->nl, &before));

	ASSERT_NE(0, spliced_and_freed(self, pfd));
	EXPECT_TRUE(arena_counter_wait("chunks_quarantined", q0 + 1, 2000));
	ASSERT_EQ(0, quarantine_get(&self->nl, &after));
	q = qnew(&before, &after);
	ASSERT_NE(NULL, q);
	e.want_id = q->id;

	err = anl_wait_event(&self->nl, EVENT_MS, held_cb, &e);
	EXPECT_EQ('\0', e.why.msg[0]) TH_LOG("%s", e.why.msg);
	ASSERT_EQ(1, err) TH_LOG("no HELD event: %s", strerror(-err));
	EXPECT_EQ(q->id, e.q.id);
	EXPECT_EQ(q->node, e.q.node);
	EXPECT_EQ(self->cs, e.q.bytes);
	EXPECT_EQ(ARENA_NL_HELD_REFERENCED, e.q.hold);
	EXPECT_GE(e.q.held_ms, 400);
	EXPECT_LT(e.q.held_ms, 400 + EVENT_MS);

	/* Once per chunk. */
	e.count = 0;
	EXPECT_EQ(-ETIMEDOUT, anl_wait_event(&self->nl, 600, held_cb, &e));
	EXPECT_EQ(0, e.count);
	drain_pipe(pfd);
	EXPECT_TRUE(arena_counter_wait("chunks_quarantined", q0, 2000));
}

/* ---- malformed requests ------------------------------------------------- */

static int count_cb(const struct nlmsghdr *nlh, void *arg)
{
	(void)nlh;
	(*(int *)arg)++;
	return 0;
}

/*
 * @m must be answered by an NLMSG_ERROR with @err and nothing else, with an
 * extack message if @extack, pointing at the attribute at @bad (offset in
 * the request) if @bad is not NULL; then the socket must still dump.
 */
static void expect_refused_at(struct __test_metadata *_metadata,
			      struct anl *nl, struct anl_msg *m, int err,
			      bool extack, const struct nlattr *bad)
{
	int replies = 0, ret;

	ret = anl_talk(nl, m, count_cb, &replies);
	EXPECT_EQ(err, ret) TH_LOG("want %s, got %s%s%s", strerror(-err),
				   ret ? strerror(-ret) : "success",
				   nl->extack[0] ? ": " : "", nl->extack);
	EXPECT_EQ(0, replies);
	if (extack && ret == err) {
		EXPECT_NE('\0', nl->extack[0]) TH_LOG("no extack message");
	}
	if (nl->extack[0])
		TH_LOG("extack: %s", nl->extack);
	if (bad && ret == err) {
		EXPECT_TRUE(nl->has_extack_offs) TH_LOG("no NLMSGERR_ATTR_OFFS");
		if (nl->has_extack_offs)
			EXPECT_EQ((const char *)bad - m->buf, nl->extack_offs);
	}
	EXPECT_EQ(0, anl_dump(nl, ARENA_NL_CMD_POOL_GET, NULL, NULL));
}

static void expect_refused(struct __test_metadata *_metadata, struct anl *nl,
			   struct anl_msg *m, int err, bool extack)
{
	expect_refused_at(_metadata, nl, m, err, extack, NULL);
}

static void arena_get_msg(struct anl *nl, struct anl_msg *m)
{
	anl_msg_init(m, nl->family, NLM_F_DUMP, ARENA_NL_CMD_ARENA_GET,
		     ARENA_NL_FAMILY_VERSION);
}

TEST_F(nl, unknown_attribute_is_refused)
{
	struct anl_msg m;
	struct nlattr *a;
	uint32_t v = 1;

	arena_get_msg(&self->nl, &m);
	a = anl_put(&m, ARENA_NL_ARENA_MAX + 1, &v, sizeof(v));
	/* The extack points at it. */
	expect_refused_at(_metadata, &self->nl, &m, -EINVAL, true, a);

	arena_get_msg(&self->nl, &m);
	anl_put(&m, 200, &v, sizeof(v));
	expect_refused(_metadata, &self->nl, &m, -EINVAL, true);

	/* Type 0 is no attribute. */
	arena_get_msg(&self->nl, &m);
	anl_put(&m, 0, &v, sizeof(v));
	expect_refused(_metadata, &self->nl, &m, -EINVAL, true);
}

TEST_F(nl, reply_attribute_in_request_is_refused)
{
	struct anl_msg m;
	struct nlattr *a;
	uint32_t v = 1;

	/* ARENA_NL_ARENA_ID is in the set but not in the request policy. */
	arena_get_msg(&self->nl, &m);
	anl_put_u32(&m, ARENA_NL_ARENA_PID, getpid());
	a = anl_put(&m, ARENA_NL_ARENA_ID, &v, sizeof(v));
	expect_refused_at(_metadata, &self->nl, &m, -EINVAL, true, a);
}

TEST_F(nl, pid_attribute_of_wrong_type_is_refused)
{
	uint64_t v64 = getpid();
	uint16_t v16 = 1;
	struct anl_msg m;
	struct nlattr *a;
	uint32_t v = getpid();

	/* u16, u64, a string, nothing. */
	arena_get_msg(&self->nl, &m);
	a = anl_put(&m, ARENA_NL_ARENA_PID, &v16, sizeof(v16));
	expect_refused_at(_metadata, &self->nl, &m, -EINVAL, true, a);

	arena_get_msg(&self->nl, &m);
	anl_put(&m, ARENA_NL_ARENA_PID, &v64, sizeof(v64));
	expect_refused(_metadata, &self->nl, &m, -EINVAL, true);

	arena_get_msg(&self->nl, &m);
	anl_put_str(&m, ARENA_NL_ARENA_PID, "1234");
	expect_refused(_metadata, &self->nl, &m, -EINVAL, true);

	arena_get_msg(&self->nl, &m);
	anl_put(&m, ARENA_NL_ARENA_PID, NULL, 0);
	expect_refused(_metadata, &self->nl, &m, -EINVAL, true);

	/* A u32 marked nested. */
	arena_get_msg(&self->nl, &m);
	a = anl_put(&m, ARENA_NL_ARENA_PID, &v, sizeof(v));
	a->nla_type |= NLA_F_NESTED;
	expect_refused(_metadata, &self->nl, &m, -EINVAL, true);

	/* Twice is fine for netlink (the last one counts): not tested. */
}

TEST_F(nl, attribute_overrunning_the_message_is_refused)
{
	struct anl_msg m;
	struct nlattr *a;
	uint32_t v = getpid();

	arena_get_msg(&self->nl, &m);
	a = anl_put(&m, ARENA_NL_ARENA_PID, &v, sizeof(v));
	a->nla_len = 64;	/* the message ends after 8 bytes of it */
	expect_refused(_metadata, &self->nl, &m, -EINVAL, false);

	/* Trailing bytes that are no attribute. */
	arena_get_msg(&self->nl, &m);
	anl_put(&m, ARENA_NL_ARENA_PID, &v, sizeof(v));
	m.nlh.nlmsg_len += 2;
	expect_refused(_metadata, &self->nl, &m, -EINVAL, false);
}

TEST_F(nl, attributes_on_pool_and_quarantine_dumps_are_refused)
{
	struct anl_msg m;
	uint32_t v = getpid();

	anl_msg_init(&m, self->nl.family, NLM_F_DUMP, ARENA_NL_CMD_POOL_GET,
		     ARENA_NL_FAMILY_VERSION);
	anl_put(&m, ARENA_NL_POOL_NODE, &v, sizeof(v));
	expect_refused(_metadata, &self->nl, &m, -EINVAL, true);

	anl_msg_init(&m, self->nl.family, NLM_F_DUMP,
		     ARENA_NL_CMD_QUARANTINE_GET, ARENA_NL_FAMILY_VERSION);
	anl_put(&m, ARENA_NL_QCHUNK_ID, &v, sizeof(v));
	expect_refused(_metadata, &self->nl, &m, -EINVAL, true);
}

TEST_F(nl, unknown_command_is_refused)
{
	static const uint8_t cmds[] = {
		ARENA_NL_CMD_UNSPEC, ARENA_NL_CMD_UAF_NTF, ARENA_NL_CMD_HELD_NTF,
		ARENA_NL_CMD_MAX + 1, 200,
	};
	struct anl_msg m;
	unsigned int i;

	for (i = 0; i < sizeof(cmds); i++) {
		anl_msg_init(&m, self->nl.family, NLM_F_DUMP, cmds[i],
			     ARENA_NL_FAMILY_VERSION);
		TH_LOG("command %u", cmds[i]);
		expect_refused(_metadata, &self->nl, &m, -EOPNOTSUPP, false);
	}
	/* The dumps have no doit. */
	anl_msg_init(&m, self->nl.family, NLM_F_ACK, ARENA_NL_CMD_POOL_GET,
		     ARENA_NL_FAMILY_VERSION);
	expect_refused(_metadata, &self->nl, &m, -EOPNOTSUPP, false);
}

TEST_F(nl, malformed_header_is_refused)
{
	struct anl_msg m;

	/* Shorter than the genl header. */
	anl_msg_init(&m, self->nl.family, NLM_F_DUMP, ARENA_NL_CMD_POOL_GET,
		     ARENA_NL_FAMILY_VERSION);
	m.nlh.nlmsg_len = NLMSG_LENGTH(2);
	expect_refused(_metadata, &self->nl, &m, -EINVAL, false);

	/* genlmsghdr.reserved must be 0 in a new family. */
	anl_msg_init(&m, self->nl.family, NLM_F_DUMP, ARENA_NL_CMD_POOL_GET,
		     ARENA_NL_FAMILY_VERSION);
	anl_genl(&m.nlh)->reserved = 1;
	expect_refused(_metadata, &self->nl, &m, -EINVAL, true);
}

static uint32_t rnd_next(uint32_t *rnd)
{
	*rnd = *rnd * 1103515245 + 12345;
	return *rnd >> 8;
}

/* Random requests: each gets an answer, none hangs or hurts the kernel. */
TEST_F(nl, random_requests_are_answered)
{
	static const uint16_t flags[] = { NLM_F_DUMP, NLM_F_ACK,
					  NLM_F_DUMP | NLM_F_ACK };
	uint32_t rnd = 0x5eed1234;
	unsigned char payload[16];
	struct anl_msg m;
	int i, j, n, ret, ok = 0, refused = 0;

	for (i = 0; i < 400; i++) {
		anl_msg_init(&m, self->nl.family, flags[rnd_next(&rnd) % 3],
			     rnd_next(&rnd) % (ARENA_NL_CMD_MAX + 2),
			     ARENA_NL_FAMILY_VERSION);
		n = rnd_next(&rnd) % 4;
		for (j = 0; j < n; j++) {
			size_t len = rnd_next(&rnd) % sizeof(payload);
			size_t k;

			for (k = 0; k < len; k++)
				payload[k] = rnd_next(&rnd);
			anl_put(&m, rnd_next(&rnd) % (ARENA_NL_ARENA_MAX + 3) |
				(rnd_next(&rnd) % 8 == 0 ? NLA_F_NESTED : 0),
				payload, len);
		}
		ret = anl_talk(&self->nl, &m, NULL, NULL);
		ASSERT_NE(-ETIMEDOUT, ret) TH_LOG("request %d hung", i);
		if (ret)
			refused++;
		else
			ok++;
	}
	TH_LOG("%d answered, %d refused", ok, refused);
	EXPECT_GT(refused, 0);
	EXPECT_EQ(0, anl_dump(&self->nl, ARENA_NL_CMD_POOL_GET, NULL, NULL));
}

TEST_HARNESS_MAIN
