// SPDX-License-Identifier: GPL-2.0
/*
 * arenastat: statistics and events of arena.ko, read from its generic
 * netlink family "arena" (uapi/linux/arena_nl.h).
 *
 *   arenastat [-j] [INTERVAL [COUNT]]   pool summary, vmstat style
 *   arenastat [-j] -p PID | -a          live arenas of one process / all
 *   arenastat [-j] quarantine           quarantined chunks and why held
 *   arenastat [-j] monitor [-n N] [-t SECONDS]
 *                                       use-after-free and long-held events
 *
 * The shape is libmnl's examples/genl/genl-family-get.c: the family id by
 * name (CTRL_CMD_GETFAMILY), then one request; every attribute level has its
 * own validate callback, which skips attributes newer than this tool
 * (mnl_attr_type_valid) and types the rest into a table. Each step that can
 * fail says which one it was. Exit status: 0 done, 1 a netlink or system
 * error, 2 bad arguments.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>

#include <linux/arena_nl.h>

#define EXIT_USAGE	2
/* Large enough for any dump skb the kernel builds (32 KiB at most). */
#define RECV_BUF_SIZE	32768

static const char *prog = "arenastat";
static bool json;
static volatile sig_atomic_t stop;

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s [-j] [INTERVAL [COUNT]]\n"
		"       %s [-j] -p PID | -a\n"
		"       %s [-j] quarantine\n"
		"       %s [-j] monitor [-n COUNT] [-t SECONDS]\n"
		"  INTERVAL [COUNT]  pool summary every INTERVAL seconds\n"
		"  -p PID            live arenas of process PID\n"
		"  -a                all live arenas the caller may see\n"
		"  quarantine        quarantined chunks and why each is held\n"
		"  monitor           print events until interrupted; -n: stop\n"
		"                    after COUNT events, -t: after SECONDS\n"
		"  -j                JSON output\n"
		"  -h                this help\n",
		prog, prog, prog, prog);
}

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* ---- netlink plumbing ------------------------------------------------ */

struct nl {
	struct mnl_socket *sock;
	unsigned int portid;
	unsigned int seq;
	uint16_t family;
	uint32_t version;
	uint32_t events_grp;	/* 0: the family has no "events" group */
	const char *what;	/* the request, for error messages */
	int quiet_errno;	/* an error the caller explains itself */
	char extack[256];	/* the kernel's reason for the last error */
};

static char rbuf[RECV_BUF_SIZE];

static int extack_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;

	if (mnl_attr_type_valid(attr, NLMSGERR_ATTR_MAX) < 0)
		return MNL_CB_OK;
	tb[mnl_attr_get_type(attr)] = attr;
	return MNL_CB_OK;
}

/* NLMSG_ERROR: 0 is the ACK; otherwise keep the extack message. */
static int error_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlmsgerr *err = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[NLMSGERR_ATTR_MAX + 1] = {};
	struct nl *nl = data;
	unsigned int off;

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*err))) {
		errno = EBADMSG;
		return MNL_CB_ERROR;
	}
	if (err->error == 0)
		return MNL_CB_STOP;
	nl->extack[0] = '\0';
	if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
		off = sizeof(*err);
		if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
			off += err->msg.nlmsg_len - sizeof(err->msg);
		off = MNL_ALIGN(off);
		if (mnl_nlmsg_size(off) <= nlh->nlmsg_len &&
		    mnl_attr_parse(nlh, off, extack_attr_cb, tb) >= 0 &&
		    tb[NLMSGERR_ATTR_MSG] &&
		    mnl_attr_validate(tb[NLMSGERR_ATTR_MSG],
				      MNL_TYPE_NUL_STRING) >= 0)
			snprintf(nl->extack, sizeof(nl->extack), "%s",
				 mnl_attr_get_str(tb[NLMSGERR_ATTR_MSG]));
	}
	errno = -err->error;
	return MNL_CB_ERROR;
}

/* NLMSG_DONE carries the dump's error, if it failed half way. */
static int done_cb(const struct nlmsghdr *nlh, void *data)
{
	int err = 0;

	(void)data;
	if (mnl_nlmsg_get_payload_len(nlh) >= sizeof(err))
		memcpy(&err, mnl_nlmsg_get_payload(nlh), sizeof(err));
	if (err < 0) {
		errno = -err;
		return MNL_CB_ERROR;
	}
	return MNL_CB_STOP;
}

static mnl_cb_t ctl_cbs[NLMSG_MIN_TYPE] = {
	[NLMSG_ERROR] = error_cb,
	[NLMSG_DONE] = done_cb,
};

static void nl_perror(struct nl *nl, const char *step)
{
	int e = errno;

	if (e == nl->quiet_errno)
		return;
	if (nl->extack[0])
		fprintf(stderr, "%s: %s: %s: %s (%s)\n", prog, nl->what, step,
			strerror(e), nl->extack);
	else
		fprintf(stderr, "%s: %s: %s: %s\n", prog, nl->what, step,
			strerror(e));
}

static struct nlmsghdr *genl_request(struct nl *nl, char *buf, uint16_t type,
				     uint16_t flags, uint8_t cmd,
				     uint8_t version)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *genl;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = ++nl->seq;
	genl = mnl_nlmsg_put_extra_header(nlh, sizeof(*genl));
	genl->cmd = cmd;
	genl->version = version;
	return nlh;
}

/* Send @nlh and run @cb on every reply until the ACK or NLMSG_DONE. */
static int nl_talk(struct nl *nl, struct nlmsghdr *nlh, mnl_cb_t cb,
		   void *data)
{
	int ret;

	nl->extack[0] = '\0';
	if (mnl_socket_sendto(nl->sock, nlh, nlh->nlmsg_len) < 0) {
		nl_perror(nl, "mnl_socket_sendto");
		return -1;
	}
	for (;;) {
		ret = mnl_socket_recvfrom(nl->sock, rbuf, sizeof(rbuf));
		if (ret < 0) {
			if (errno == EINTR && !stop)
				continue;
			/* SIGINT or SIGTERM: the caller stops quietly. */
			if (errno != EINTR)
				nl_perror(nl, "mnl_socket_recvfrom");
			return -1;
		}
		ret = mnl_cb_run2(rbuf, ret, nlh->nlmsg_seq, nl->portid, cb,
				  data, ctl_cbs, NLMSG_MIN_TYPE);
		if (ret < 0) {
			nl_perror(nl, "mnl_cb_run");
			return -1;
		}
		if (ret == MNL_CB_STOP)
			return 0;
	}
}

/* ---- the family, by name --------------------------------------------- */

static int mcgrp_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);

	if (mnl_attr_type_valid(attr, CTRL_ATTR_MCAST_GRP_MAX) < 0)
		return MNL_CB_OK;
	switch (type) {
	case CTRL_ATTR_MCAST_GRP_ID:
		if (mnl_attr_validate(attr, MNL_TYPE_U32) < 0) {
			perror("mnl_attr_validate");
			return MNL_CB_ERROR;
		}
		break;
	case CTRL_ATTR_MCAST_GRP_NAME:
		if (mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) < 0) {
			perror("mnl_attr_validate");
			return MNL_CB_ERROR;
		}
		break;
	}
	tb[type] = attr;
	return MNL_CB_OK;
}

static void parse_mcgrps(const struct nlattr *nested, struct nl *nl)
{
	const struct nlattr *pos;

	mnl_attr_for_each_nested(pos, nested) {
		const struct nlattr *tb[CTRL_ATTR_MCAST_GRP_MAX + 1] = {};

		if (mnl_attr_parse_nested(pos, mcgrp_attr_cb, tb) < 0)
			continue;
		if (tb[CTRL_ATTR_MCAST_GRP_NAME] && tb[CTRL_ATTR_MCAST_GRP_ID] &&
		    !strcmp(mnl_attr_get_str(tb[CTRL_ATTR_MCAST_GRP_NAME]),
			    ARENA_NL_MCGRP_EVENTS))
			nl->events_grp =
				mnl_attr_get_u32(tb[CTRL_ATTR_MCAST_GRP_ID]);
	}
}


/* The common end of every attribute callback: type-check, then keep. */
static int store_attr(const struct nlattr *attr, const struct nlattr **tb,
		      int type, enum mnl_attr_data_type want)
{
	if (mnl_attr_validate(attr, want) < 0) {
		perror("mnl_attr_validate");
		return MNL_CB_ERROR;
	}
	tb[type] = attr;
	return MNL_CB_OK;
}

static int ctrl_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);
	enum mnl_attr_data_type want;

	if (mnl_attr_type_valid(attr, CTRL_ATTR_MAX) < 0)
		return MNL_CB_OK;
	switch (type) {
	case CTRL_ATTR_FAMILY_ID:
		want = MNL_TYPE_U16;
		break;
	case CTRL_ATTR_VERSION:
		want = MNL_TYPE_U32;
		break;
	case CTRL_ATTR_MCAST_GROUPS:
		want = MNL_TYPE_NESTED;
		break;
	default:
		return MNL_CB_OK;
	}
	return store_attr(attr, tb, type, want);
}

static int family_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[CTRL_ATTR_MAX + 1] = {};
	struct nl *nl = data;

	if (mnl_attr_parse(nlh, sizeof(struct genlmsghdr), ctrl_attr_cb,
			   tb) < 0)
		return MNL_CB_ERROR;
	if (tb[CTRL_ATTR_FAMILY_ID])
		nl->family = mnl_attr_get_u16(tb[CTRL_ATTR_FAMILY_ID]);
	if (tb[CTRL_ATTR_VERSION])
		nl->version = mnl_attr_get_u32(tb[CTRL_ATTR_VERSION]);
	if (tb[CTRL_ATTR_MCAST_GROUPS])
		parse_mcgrps(tb[CTRL_ATTR_MCAST_GROUPS], nl);
	return MNL_CB_OK;
}

static int nl_open(struct nl *nl)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	int one = 1, ret;

	memset(nl, 0, sizeof(*nl));
	nl->seq = time(NULL);
	nl->sock = mnl_socket_open(NETLINK_GENERIC);
	if (!nl->sock) {
		perror("mnl_socket_open");
		return -1;
	}
	if (mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
		perror("mnl_socket_bind");
		return -1;
	}
	nl->portid = mnl_socket_get_portid(nl->sock);
	/* Best effort: only the kernel's reason for an error is lost. */
	mnl_socket_setsockopt(nl->sock, NETLINK_EXT_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(nl->sock, NETLINK_CAP_ACK, &one, sizeof(one));

	nlh = genl_request(nl, buf, GENL_ID_CTRL, NLM_F_ACK, CTRL_CMD_GETFAMILY,
			   1);
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, ARENA_NL_FAMILY_NAME);
	nl->what = "CTRL_CMD_GETFAMILY";
	nl->quiet_errno = ENOENT;
	ret = nl_talk(nl, nlh, family_cb, nl);
	nl->quiet_errno = 0;
	if (ret < 0) {
		if (errno == ENOENT)
			fprintf(stderr,
				"%s: no generic netlink family \"%s\": is arena.ko loaded (and new enough)?\n",
				prog, ARENA_NL_FAMILY_NAME);
		return -1;
	}
	if (!nl->family) {
		fprintf(stderr, "%s: CTRL_CMD_GETFAMILY: no family id in the reply\n",
			prog);
		return -1;
	}
	return 0;
}

/* Only replies to @cmd; anything else of the family is skipped. */
static const struct genlmsghdr *genl_of(const struct nlmsghdr *nlh,
					uint8_t cmd)
{
	const struct genlmsghdr *genl = mnl_nlmsg_get_payload(nlh);

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*genl) || genl->cmd != cmd)
		return NULL;
	return genl;
}

/* ---- output helpers -------------------------------------------------- */

static void json_str(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	putchar('"');
	for (; *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20 || *p >= 0x7f)
			/* comm is bytes, not UTF-8: keep the JSON valid */
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

static double mib(uint64_t bytes)
{
	return bytes / 1048576.0;
}

static double now_real(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static const char *hold_name(uint32_t hold)
{
	switch (hold) {
	case ARENA_NL_HELD_MAPPED:
		return "mapped";
	case ARENA_NL_HELD_PINNED:
		return "pinned";
	case ARENA_NL_HELD_REFERENCED:
		return "referenced";
	}
	return "unknown";
}

static const char *state_name(uint32_t state)
{
	return state == ARENA_NL_ARENA_LIVE ? "live" : "unknown";
}

/* ---- the pool summary ------------------------------------------------ */

#define NR_POOL_ATTRS	(ARENA_NL_POOL_MAX + 1)

struct pool_node {
	uint32_t node;
	uint64_t v[NR_POOL_ATTRS];
	bool has[NR_POOL_ATTRS];
};

struct pool_sample {
	double t;			/* CLOCK_MONOTONIC */
	double wall;			/* CLOCK_REALTIME */
	bool have_total;
	uint64_t v[NR_POOL_ATTRS];	/* the totals message */
	bool has[NR_POOL_ATTRS];
	struct pool_node *nodes;
	unsigned int nr_nodes;
};

static int pool_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);

	if (mnl_attr_type_valid(attr, ARENA_NL_POOL_MAX) < 0)
		return MNL_CB_OK;
	if (type == ARENA_NL_POOL_PAD)
		return MNL_CB_OK;
	if (mnl_attr_validate(attr, type == ARENA_NL_POOL_NODE ?
				    MNL_TYPE_U32 : MNL_TYPE_U64) < 0) {
		perror("mnl_attr_validate");
		return MNL_CB_ERROR;
	}
	tb[type] = attr;
	return MNL_CB_OK;
}

static int pool_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[NR_POOL_ATTRS] = {};
	struct pool_sample *s = data;
	uint64_t *v;
	bool *has;
	int i;

	if (!genl_of(nlh, ARENA_NL_CMD_POOL_GET))
		return MNL_CB_OK;
	if (mnl_attr_parse(nlh, sizeof(struct genlmsghdr), pool_attr_cb,
			   tb) < 0)
		return MNL_CB_ERROR;
	if (tb[ARENA_NL_POOL_NODE]) {
		struct pool_node *n = realloc(s->nodes, (s->nr_nodes + 1) *
					      sizeof(*n));

		if (!n) {
			perror("realloc");
			return MNL_CB_ERROR;
		}
		s->nodes = n;
		n += s->nr_nodes++;
		memset(n, 0, sizeof(*n));
		n->node = mnl_attr_get_u32(tb[ARENA_NL_POOL_NODE]);
		v = n->v;
		has = n->has;
	} else {
		s->have_total = true;
		v = s->v;
		has = s->has;
	}
	for (i = ARENA_NL_POOL_CHUNK_SIZE; i < NR_POOL_ATTRS; i++) {
		if (!tb[i])
			continue;
		v[i] = mnl_attr_get_u64(tb[i]);
		has[i] = true;
	}
	return MNL_CB_OK;
}

static int pool_get(struct nl *nl, struct pool_sample *s)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;

	free(s->nodes);
	memset(s, 0, sizeof(*s));
	nlh = genl_request(nl, buf, nl->family, NLM_F_DUMP,
			   ARENA_NL_CMD_POOL_GET, ARENA_NL_FAMILY_VERSION);
	nl->what = "ARENA_NL_CMD_POOL_GET";
	if (nl_talk(nl, nlh, pool_cb, s) < 0)
		return -1;
	s->t = now_mono();
	s->wall = now_real();
	if (!s->have_total) {
		fprintf(stderr, "%s: ARENA_NL_CMD_POOL_GET: no totals in the reply\n",
			prog);
		return -1;
	}
	return 0;
}

/* State counts, in the order the text and the JSON show them. */
static const struct {
	int attr;
	const char *json;
	const char *head;
} pool_states[] = {
	{ ARENA_NL_POOL_READY, "ready", "ready" },
	{ ARENA_NL_POOL_IN_USE, "in_use", "in_use" },
	{ ARENA_NL_POOL_QUARANTINED, "quarantined", "quarant" },
	{ ARENA_NL_POOL_DIRTY, "dirty", "dirty" },
	{ ARENA_NL_POOL_TOTAL, "total", "total" },
};

/* Events since load; the text shows those with a heading. */
static const struct {
	int attr;
	const char *json;
	const char *head;
} pool_events[] = {
	{ ARENA_NL_POOL_ARENAS_CREATED, "arenas_created", "created" },
	{ ARENA_NL_POOL_ARENAS_FREED, "arenas_freed", "freed" },
	{ ARENA_NL_POOL_CHUNKS_MAPPED, "chunks_mapped", "mapped" },
	{ ARENA_NL_POOL_CHUNKS_RELEASED, "chunks_released", "released" },
	{ ARENA_NL_POOL_PAGES_ZEROED, "pages_zeroed", "zeroed" },
	{ ARENA_NL_POOL_UAF_FAULTS, "uaf_faults", "uaf" },
	{ ARENA_NL_POOL_CHUNKS_QUARANTINED, "chunks_quarantined", NULL },
	{ ARENA_NL_POOL_SHRINKER_RELEASED, "shrinker_released", NULL },
	{ ARENA_NL_POOL_LIMIT_HITS, "limit_hits", NULL },
};

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static void json_u64_or_null(const bool *has, const uint64_t *v, int attr)
{
	if (has[attr])
		printf("%" PRIu64, v[attr]);
	else
		printf("null");
}

static void pool_json(const struct pool_sample *s,
		      const struct pool_sample *prev)
{
	uint64_t cs = s->v[ARENA_NL_POOL_CHUNK_SIZE];
	unsigned int i, n;

	printf("{\"time\":%.3f,\"chunk_size\":", s->wall);
	json_u64_or_null(s->has, s->v, ARENA_NL_POOL_CHUNK_SIZE);
	printf(",\"chunks\":{");
	for (i = 0; i < ARRAY_SIZE(pool_states); i++) {
		printf("%s\"%s\":", i ? "," : "", pool_states[i].json);
		json_u64_or_null(s->has, s->v, pool_states[i].attr);
	}
	printf("},\"mib\":{\"in_use\":%.1f,\"total\":%.1f}",
	       mib(s->v[ARENA_NL_POOL_IN_USE] * cs),
	       mib(s->v[ARENA_NL_POOL_TOTAL] * cs));
	printf(",\"counters\":{");
	for (i = 0; i < ARRAY_SIZE(pool_events); i++) {
		printf("%s\"%s\":", i ? "," : "", pool_events[i].json);
		json_u64_or_null(s->has, s->v, pool_events[i].attr);
	}
	printf("},\"rates\":");
	if (prev) {
		double dt = s->t - prev->t;

		printf("{\"interval_s\":%.3f", dt);
		for (i = 0; i < ARRAY_SIZE(pool_events); i++) {
			int a = pool_events[i].attr;

			printf(",\"%s\":", pool_events[i].json);
			if (s->has[a] && prev->has[a] && dt > 0)
				printf("%.2f", (double)(s->v[a] - prev->v[a]) / dt);
			else
				printf("null");
		}
		printf("}");
	} else {
		printf("null");
	}
	printf(",\"nodes\":[");
	for (n = 0; n < s->nr_nodes; n++) {
		printf("%s{\"node\":%u", n ? "," : "", s->nodes[n].node);
		for (i = 0; i < ARRAY_SIZE(pool_states); i++) {
			printf(",\"%s\":", pool_states[i].json);
			json_u64_or_null(s->nodes[n].has, s->nodes[n].v,
					 pool_states[i].attr);
		}
		printf("}");
	}
	printf("]}");
}

/* " title " centred in a run of @width dashes. */
static void dash_group(const char *title, int width, const char *after)
{
	int len = strlen(title) + 2, left = (width - len) / 2, i;

	for (i = 0; i < left; i++)
		putchar('-');
	printf(" %s ", title);
	for (i = left + len; i < width; i++)
		putchar('-');
	fputs(after, stdout);
}

static void pool_text_header(void)
{
	dash_group("chunks", 39, " ");
	dash_group("MiB", 17, " ");
	dash_group("per second", 46, "\n");
	printf("%7s %7s %7s %7s %7s %8s %8s", "ready", "in_use", "quarant",
	       "dirty", "total", "in_use", "total");
	printf(" %7s %6s %7s %8s %8s %5s\n", "created", "freed", "mapped",
	       "released", "zeroed", "uaf");
}

/*
 * One line. The event columns are per second over the interval; the first
 * line, with no interval before it, shows the counts since the module was
 * loaded (as vmstat's first line shows the averages since boot).
 */
static void pool_text(const struct pool_sample *s,
		      const struct pool_sample *prev)
{
	static const int width[] = { 7, 6, 7, 8, 8, 5 };
	uint64_t cs = s->v[ARENA_NL_POOL_CHUNK_SIZE];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(pool_states); i++) {
		int a = pool_states[i].attr;

		if (i)
			putchar(' ');
		if (s->has[a])
			printf("%7" PRIu64, s->v[a]);
		else
			printf("%7s", "-");
	}
	printf(" %8.1f %8.1f", mib(s->v[ARENA_NL_POOL_IN_USE] * cs),
	       mib(s->v[ARENA_NL_POOL_TOTAL] * cs));
	for (i = 0; i < ARRAY_SIZE(width); i++) {
		int a = pool_events[i].attr;
		double dt = prev ? s->t - prev->t : 0;

		if (!s->has[a] || (prev && !prev->has[a]))
			printf(" %*s", width[i], "-");
		else if (!prev)
			printf(" %*" PRIu64, width[i], s->v[a]);
		else
			printf(" %*.0f", width[i],
			       dt > 0 ? (s->v[a] - prev->v[a]) / dt : 0.0);
	}
	putchar('\n');
}

/* Reports between headers: as vmstat, a screen's worth on a terminal. */
static int header_every(void)
{
	struct winsize ws;

	if (isatty(STDOUT_FILENO) && !ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) &&
	    ws.ws_row > 5)
		return ws.ws_row - 3;
	return 21;
}

static void sleep_until(struct timespec *next, double interval)
{
	long long ns = next->tv_nsec + (long long)(interval * 1e9);

	next->tv_sec += ns / 1000000000;
	next->tv_nsec = ns % 1000000000;
	while (!stop && clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, next,
					NULL) == EINTR)
		;
}

static int cmd_summary(struct nl *nl, double interval, unsigned long count)
{
	struct pool_sample s[2] = {};
	struct timespec next;
	int every = header_every(), cur = 0, ret = 0;
	unsigned long n;

	clock_gettime(CLOCK_MONOTONIC, &next);
	if (json && interval > 0)
		printf("[\n");
	for (n = 0; !stop && (!count || n < count); n++) {
		struct pool_sample *prev = n ? &s[!cur] : NULL;

		if (n)
			sleep_until(&next, interval);
		if (stop)
			break;
		if (pool_get(nl, &s[cur]) < 0) {
			ret = stop ? 0 : 1;
			break;
		}
		if (json) {
			if (n)
				printf(",\n");
			pool_json(&s[cur], prev);
			if (interval <= 0)
				putchar('\n');
		} else {
			if (n % every == 0)
				pool_text_header();
			pool_text(&s[cur], prev);
		}
		fflush(stdout);
		cur = !cur;
		if (interval <= 0)
			break;
	}
	if (json && interval > 0)
		printf("\n]\n");
	free(s[0].nodes);
	free(s[1].nodes);
	return ret;
}

/* ---- arenas ---------------------------------------------------------- */

struct arena_list {
	unsigned int n;
};

static int arena_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);
	enum mnl_attr_data_type want;

	if (mnl_attr_type_valid(attr, ARENA_NL_ARENA_MAX) < 0)
		return MNL_CB_OK;
	switch (type) {
	case ARENA_NL_ARENA_PID:
	case ARENA_NL_ARENA_ID:
	case ARENA_NL_ARENA_STATE:
		want = MNL_TYPE_U32;
		break;
	case ARENA_NL_ARENA_CHUNKS:
	case ARENA_NL_ARENA_BYTES_MAPPED:
		want = MNL_TYPE_U64;
		break;
	case ARENA_NL_ARENA_COMM:
		want = MNL_TYPE_NUL_STRING;
		break;
	default:
		return MNL_CB_OK;
	}
	return store_attr(attr, tb, type, want);
}

static int arena_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[ARENA_NL_ARENA_MAX + 1] = {};
	struct arena_list *l = data;
	uint64_t chunks = 0, bytes = 0;
	uint32_t pid = 0, id = 0, state = 0;
	const char *comm = "";

	if (!genl_of(nlh, ARENA_NL_CMD_ARENA_GET))
		return MNL_CB_OK;
	if (mnl_attr_parse(nlh, sizeof(struct genlmsghdr), arena_attr_cb,
			   tb) < 0)
		return MNL_CB_ERROR;
	if (tb[ARENA_NL_ARENA_PID])
		pid = mnl_attr_get_u32(tb[ARENA_NL_ARENA_PID]);
	if (tb[ARENA_NL_ARENA_ID])
		id = mnl_attr_get_u32(tb[ARENA_NL_ARENA_ID]);
	if (tb[ARENA_NL_ARENA_CHUNKS])
		chunks = mnl_attr_get_u64(tb[ARENA_NL_ARENA_CHUNKS]);
	if (tb[ARENA_NL_ARENA_BYTES_MAPPED])
		bytes = mnl_attr_get_u64(tb[ARENA_NL_ARENA_BYTES_MAPPED]);
	if (tb[ARENA_NL_ARENA_STATE])
		state = mnl_attr_get_u32(tb[ARENA_NL_ARENA_STATE]);
	if (tb[ARENA_NL_ARENA_COMM])
		comm = mnl_attr_get_str(tb[ARENA_NL_ARENA_COMM]);

	if (json) {
		printf("%s{\"pid\":%u,\"comm\":", l->n ? ",\n" : "\n", pid);
		json_str(comm);
		printf(",\"arena_id\":%u,\"chunks\":%" PRIu64
		       ",\"bytes_mapped\":%" PRIu64 ",\"mib\":%.1f,\"state\":\"%s\"}",
		       id, chunks, bytes, mib(bytes), state_name(state));
	} else {
		printf("%7u %-16s %10u %8" PRIu64 " %9.1f %s\n", pid, comm, id,
		       chunks, mib(bytes), state_name(state));
	}
	l->n++;
	return MNL_CB_OK;
}

static int cmd_arenas(struct nl *nl, long pid)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct arena_list l = { 0 };
	struct nlmsghdr *nlh;
	int ret;

	nlh = genl_request(nl, buf, nl->family, NLM_F_DUMP,
			   ARENA_NL_CMD_ARENA_GET, ARENA_NL_FAMILY_VERSION);
	if (pid > 0)
		mnl_attr_put_u32(nlh, ARENA_NL_ARENA_PID, pid);
	nl->what = "ARENA_NL_CMD_ARENA_GET";
	if (json)
		printf("[");
	else
		printf("%7s %-16s %10s %8s %9s %s\n", "PID", "COMM", "ARENA",
		       "CHUNKS", "MiB", "STATE");
	ret = nl_talk(nl, nlh, arena_cb, &l);
	if (json)
		printf("%s]\n", l.n ? "\n" : "");
	return ret < 0 && !stop ? 1 : 0;
}

/* ---- quarantine and long-held chunks ---------------------------------- */

struct qchunk {
	uint64_t id, bytes, held_ms;
	uint32_t node, hold;
};

static int qchunk_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);
	enum mnl_attr_data_type want;

	if (mnl_attr_type_valid(attr, ARENA_NL_QCHUNK_MAX) < 0)
		return MNL_CB_OK;
	switch (type) {
	case ARENA_NL_QCHUNK_NODE:
	case ARENA_NL_QCHUNK_HOLD:
		want = MNL_TYPE_U32;
		break;
	case ARENA_NL_QCHUNK_ID:
	case ARENA_NL_QCHUNK_BYTES:
	case ARENA_NL_QCHUNK_HELD_MS:
		want = MNL_TYPE_U64;
		break;
	default:
		return MNL_CB_OK;
	}
	return store_attr(attr, tb, type, want);
}

static int qchunk_parse(const struct nlmsghdr *nlh, struct qchunk *q)
{
	const struct nlattr *tb[ARENA_NL_QCHUNK_MAX + 1] = {};

	memset(q, 0, sizeof(*q));
	if (mnl_attr_parse(nlh, sizeof(struct genlmsghdr), qchunk_attr_cb,
			   tb) < 0)
		return -1;
	if (tb[ARENA_NL_QCHUNK_ID])
		q->id = mnl_attr_get_u64(tb[ARENA_NL_QCHUNK_ID]);
	if (tb[ARENA_NL_QCHUNK_NODE])
		q->node = mnl_attr_get_u32(tb[ARENA_NL_QCHUNK_NODE]);
	if (tb[ARENA_NL_QCHUNK_BYTES])
		q->bytes = mnl_attr_get_u64(tb[ARENA_NL_QCHUNK_BYTES]);
	if (tb[ARENA_NL_QCHUNK_HOLD])
		q->hold = mnl_attr_get_u32(tb[ARENA_NL_QCHUNK_HOLD]);
	if (tb[ARENA_NL_QCHUNK_HELD_MS])
		q->held_ms = mnl_attr_get_u64(tb[ARENA_NL_QCHUNK_HELD_MS]);
	return 0;
}

static void qchunk_json_fields(const struct qchunk *q)
{
	printf("\"id\":%" PRIu64 ",\"node\":%u,\"bytes\":%" PRIu64
	       ",\"hold\":\"%s\",\"held_ms\":%" PRIu64,
	       q->id, q->node, q->bytes, hold_name(q->hold), q->held_ms);
}

static int quarantine_cb(const struct nlmsghdr *nlh, void *data)
{
	unsigned int *n = data;
	struct qchunk q;

	if (!genl_of(nlh, ARENA_NL_CMD_QUARANTINE_GET))
		return MNL_CB_OK;
	if (qchunk_parse(nlh, &q) < 0)
		return MNL_CB_ERROR;
	if (json) {
		printf("%s{", *n ? ",\n" : "\n");
		qchunk_json_fields(&q);
		printf("}");
	} else {
		printf("%10" PRIu64 " %4u %7.1f %-10s %6" PRIu64 ".%03" PRIu64 "s\n",
		       q.id, q.node, mib(q.bytes), hold_name(q.hold),
		       q.held_ms / 1000, q.held_ms % 1000);
	}
	(*n)++;
	return MNL_CB_OK;
}

static int cmd_quarantine(struct nl *nl)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	unsigned int n = 0;
	int ret;

	nlh = genl_request(nl, buf, nl->family, NLM_F_DUMP,
			   ARENA_NL_CMD_QUARANTINE_GET, ARENA_NL_FAMILY_VERSION);
	nl->what = "ARENA_NL_CMD_QUARANTINE_GET";
	if (json)
		printf("[");
	else
		printf("%10s %4s %7s %-10s %11s\n", "CHUNK", "NODE", "MiB",
		       "HELD_BY", "HELD_FOR");
	ret = nl_talk(nl, nlh, quarantine_cb, &n);
	if (json)
		printf("%s]\n", n ? "\n" : "");
	return ret < 0 && !stop ? 1 : 0;
}

/* ---- events ----------------------------------------------------------- */

struct monitor {
	unsigned long seen;
	unsigned long want;	/* 0: until interrupted or timed out */
};

static int uaf_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);
	enum mnl_attr_data_type want;

	if (mnl_attr_type_valid(attr, ARENA_NL_UAF_MAX) < 0)
		return MNL_CB_OK;
	switch (type) {
	case ARENA_NL_UAF_PID:
	case ARENA_NL_UAF_ARENA_ID:
	case ARENA_NL_UAF_FREED_BY_PID:
	case ARENA_NL_UAF_VIA_PID:
		want = MNL_TYPE_U32;
		break;
	case ARENA_NL_UAF_ADDR:
	case ARENA_NL_UAF_OFFSET:
	case ARENA_NL_UAF_FREED_NS_AGO:
		want = MNL_TYPE_U64;
		break;
	case ARENA_NL_UAF_COMM:
	case ARENA_NL_UAF_VIA_COMM:
		want = MNL_TYPE_NUL_STRING;
		break;
	default:
		return MNL_CB_OK;
	}
	return store_attr(attr, tb, type, want);
}

static uint32_t tb_u32(const struct nlattr *a)
{
	return a ? mnl_attr_get_u32(a) : 0;
}

static uint64_t tb_u64(const struct nlattr *a)
{
	return a ? mnl_attr_get_u64(a) : 0;
}

static void event_time(double wall)
{
	time_t t = wall;
	struct tm tm;

	localtime_r(&t, &tm);
	printf("%02d:%02d:%02d.%03d ", tm.tm_hour, tm.tm_min, tm.tm_sec,
	       (int)((wall - t) * 1000));
}

static int uaf_event(const struct nlmsghdr *nlh, double wall)
{
	const struct nlattr *tb[ARENA_NL_UAF_MAX + 1] = {};
	const char *comm, *via_comm;
	uint32_t via;

	if (mnl_attr_parse(nlh, sizeof(struct genlmsghdr), uaf_attr_cb,
			   tb) < 0)
		return -1;
	comm = tb[ARENA_NL_UAF_COMM] ? mnl_attr_get_str(tb[ARENA_NL_UAF_COMM]) :
				       "";
	/* Another process's access into the owner's window. */
	via = tb_u32(tb[ARENA_NL_UAF_VIA_PID]);
	via_comm = tb[ARENA_NL_UAF_VIA_COMM] ?
		   mnl_attr_get_str(tb[ARENA_NL_UAF_VIA_COMM]) : "";
	if (json) {
		printf("{\"event\":\"uaf\",\"time\":%.3f,\"pid\":%u,\"comm\":",
		       wall, tb_u32(tb[ARENA_NL_UAF_PID]));
		json_str(comm);
		printf(",\"addr\":%" PRIu64 ",\"arena_id\":%u,\"offset\":%" PRIu64
		       ",\"freed_ns_ago\":%" PRIu64 ",\"freed_by_pid\":%u",
		       tb_u64(tb[ARENA_NL_UAF_ADDR]),
		       tb_u32(tb[ARENA_NL_UAF_ARENA_ID]),
		       tb_u64(tb[ARENA_NL_UAF_OFFSET]),
		       tb_u64(tb[ARENA_NL_UAF_FREED_NS_AGO]),
		       tb_u32(tb[ARENA_NL_UAF_FREED_BY_PID]));
		if (via) {
			printf(",\"via_pid\":%u,\"via_comm\":", via);
			json_str(via_comm);
		}
		printf("}\n");
	} else {
		event_time(wall);
		printf("use-after-free: pid %u (%s) address %#" PRIx64
		       ": arena %u offset %#" PRIx64 ", freed %" PRIu64
		       " us ago by pid %u",
		       tb_u32(tb[ARENA_NL_UAF_PID]), comm,
		       tb_u64(tb[ARENA_NL_UAF_ADDR]),
		       tb_u32(tb[ARENA_NL_UAF_ARENA_ID]),
		       tb_u64(tb[ARENA_NL_UAF_OFFSET]),
		       tb_u64(tb[ARENA_NL_UAF_FREED_NS_AGO]) / 1000,
		       tb_u32(tb[ARENA_NL_UAF_FREED_BY_PID]));
		if (via)
			printf("; accessed by pid %u (%s) from outside", via,
			       via_comm);
		printf("\n");
	}
	return 0;
}

static int held_event(const struct nlmsghdr *nlh, double wall)
{
	struct qchunk q;

	if (qchunk_parse(nlh, &q) < 0)
		return -1;
	if (json) {
		printf("{\"event\":\"held\",\"time\":%.3f,", wall);
		qchunk_json_fields(&q);
		printf("}\n");
	} else {
		event_time(wall);
		printf("held: chunk %" PRIu64 " node %u (%.1f MiB) %s for %" PRIu64
		       " ms\n", q.id, q.node, mib(q.bytes), hold_name(q.hold),
		       q.held_ms);
	}
	return 0;
}

static int event_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct genlmsghdr *genl = mnl_nlmsg_get_payload(nlh);
	struct monitor *m = data;
	double wall = now_real();
	int err;

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*genl))
		return MNL_CB_OK;
	switch (genl->cmd) {
	case ARENA_NL_CMD_UAF_NTF:
		err = uaf_event(nlh, wall);
		break;
	case ARENA_NL_CMD_HELD_NTF:
		err = held_event(nlh, wall);
		break;
	default:
		return MNL_CB_OK;	/* an event newer than this tool */
	}
	if (err)
		return MNL_CB_ERROR;
	fflush(stdout);
	if (m->want && ++m->seen >= m->want)
		return MNL_CB_STOP;
	return MNL_CB_OK;
}

static int cmd_monitor(struct nl *nl, unsigned long want, double timeout)
{
	struct monitor m = { .want = want };
	double end = timeout > 0 ? now_mono() + timeout : 0;
	struct pollfd pfd;
	int grp = nl->events_grp, ret;

	nl->what = "monitor";
	if (!grp) {
		fprintf(stderr, "%s: the family has no \"%s\" group\n", prog,
			ARENA_NL_MCGRP_EVENTS);
		return 1;
	}
	if (mnl_socket_setsockopt(nl->sock, NETLINK_ADD_MEMBERSHIP, &grp,
				  sizeof(grp)) < 0) {
		int e = errno;

		perror("NETLINK_ADD_MEMBERSHIP");
		if (e == EPERM)
			fprintf(stderr, "%s: the events group needs CAP_NET_ADMIN\n",
				prog);
		return 1;
	}
	pfd.fd = mnl_socket_get_fd(nl->sock);
	pfd.events = POLLIN;
	while (!stop) {
		int ms = -1;

		if (end) {
			double left = end - now_mono();

			if (left <= 0)
				break;
			ms = (int)ceil(left * 1000);
		}
		ret = poll(&pfd, 1, ms);
		if (ret < 0) {
			if (errno == EINTR)
				continue;
			perror("poll");
			return 1;
		}
		if (ret == 0)
			continue;
		ret = mnl_socket_recvfrom(nl->sock, rbuf, sizeof(rbuf));
		if (ret < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS) {
				/* Overrun: events were dropped, go on. */
				fprintf(stderr, "%s: events lost (receive buffer overrun)\n",
					prog);
				continue;
			}
			perror("mnl_socket_recvfrom");
			return 1;
		}
		ret = mnl_cb_run(rbuf, ret, 0, 0, event_cb, &m);
		if (ret < 0) {
			perror("mnl_cb_run");
			return 1;
		}
		if (ret == MNL_CB_STOP)
			return 0;
	}
	if (want && m.seen < want) {
		if (!stop)
			fprintf(stderr, "%s: monitor: timed out after %lu of %lu events\n",
				prog, m.seen, want);
		return stop ? 0 : 1;
	}
	return 0;
}

/* ---- arguments -------------------------------------------------------- */

static bool parse_double(const char *s, double *v)
{
	char *end;

	errno = 0;
	*v = strtod(s, &end);
	return !errno && end != s && !*end && isfinite(*v) && *v > 0 &&
	       *v <= 86400 * 365;
}

static bool parse_ulong(const char *s, unsigned long max, unsigned long *v)
{
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	*v = strtoul(s, &end, 10);
	return !errno && !*end && *v > 0 && *v <= max;
}

static void __attribute__((format(printf, 1, 2), noreturn))
bad_usage(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	usage(stderr);
	exit(EXIT_USAGE);
}

enum mode { SUMMARY, ARENAS, QUARANTINE, MONITOR };

int main(int argc, char **argv)
{
	unsigned long pid = 0, count = 0, nevents = 0;
	double interval = 0, timeout = 0;
	bool all = false, have_n = false, have_t = false;
	enum mode mode = SUMMARY;
	struct sigaction sa = { .sa_handler = on_signal };
	struct nl nl;
	int opt, ret;

	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "pid", required_argument, NULL, 'p' },
		{ "all", no_argument, NULL, 'a' },
		{ "count", required_argument, NULL, 'n' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};

	while ((opt = getopt_long(argc, argv, "jp:an:t:h", longopts,
				  NULL)) != -1) {
		switch (opt) {
		case 'j':
			json = true;
			break;
		case 'p':
			if (!parse_ulong(optarg, INT_MAX, &pid))
				bad_usage("bad PID '%s'", optarg);
			break;
		case 'a':
			all = true;
			break;
		case 'n':
			if (!parse_ulong(optarg, ULONG_MAX, &nevents))
				bad_usage("bad event count '%s'", optarg);
			have_n = true;
			break;
		case 't':
			if (!parse_double(optarg, &timeout))
				bad_usage("bad timeout '%s'", optarg);
			have_t = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	argv += optind;
	argc -= optind;

	if (argc && !strcmp(argv[0], "quarantine")) {
		mode = QUARANTINE;
		argc--;
		argv++;
	} else if (argc && !strcmp(argv[0], "monitor")) {
		mode = MONITOR;
		argc--;
		argv++;
	} else if (pid || all) {
		mode = ARENAS;
	}
	if (pid && all)
		bad_usage("-p and -a exclude each other");
	if (mode != MONITOR && (have_n || have_t))
		bad_usage("-n and -t go with monitor");
	if ((pid || all) && mode != ARENAS)
		bad_usage("-p and -a do not go with a command");
	if (mode == SUMMARY && argc >= 1) {
		if (!parse_double(argv[0], &interval))
			bad_usage("bad INTERVAL '%s'", argv[0]);
		if (argc >= 2 && !parse_ulong(argv[1], ULONG_MAX, &count))
			bad_usage("bad COUNT '%s'", argv[1]);
		if (argc > 2)
			bad_usage("unexpected argument '%s'", argv[2]);
	} else if (argc) {
		bad_usage("unexpected argument '%s'", argv[0]);
	}

	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: a signal ends the poll, recv or sleep it hits. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_DFL);

	if (nl_open(&nl) < 0)
		return 1;
	switch (mode) {
	case SUMMARY:
		ret = cmd_summary(&nl, interval, count);
		break;
	case ARENAS:
		ret = cmd_arenas(&nl, pid);
		break;
	case QUARANTINE:
		ret = cmd_quarantine(&nl);
		break;
	default:
		ret = cmd_monitor(&nl, nevents, timeout);
		break;
	}
	mnl_socket_close(nl.sock);
	if (fflush(stdout) == EOF) {
		perror("stdout");
		ret = 1;
	}
	return ret;
}
