/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A small raw generic netlink client for the selftests (no libmnl: the
 * tests are static programs): open a NETLINK_GENERIC socket, resolve a
 * family and its multicast groups by name, build requests attribute by
 * attribute (well-formed or not), run them to the ACK or NLMSG_DONE, and
 * walk the nlmsghdr/nlattr of the replies by hand. Errors come back as
 * -errno, with the kernel's extack message kept in the socket.
 */
#ifndef ARENA_NL_HELPERS_H
#define ARENA_NL_HELPERS_H

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <linux/genetlink.h>
#include <linux/netlink.h>

#include <linux/arena_nl.h>

#define ANL_BUF_SIZE	32768	/* the largest dump skb the kernel makes */
#define ANL_TIMEOUT_MS	5000	/* no reply this long: -ETIMEDOUT */

struct anl {
	int fd;
	uint32_t portid;
	uint32_t seq;
	uint16_t family;		/* 0 until anl_resolve() */
	uint32_t version;
	uint32_t events_grp;		/* 0: no such group */
	uint32_t op_flags[32];		/* CTRL_ATTR_OP_FLAGS by command */
	bool op_known[32];
	char extack[256];		/* NLMSGERR_ATTR_MSG of the last error */
	bool has_extack_offs;
	uint32_t extack_offs;		/* NLMSGERR_ATTR_OFFS */
	char buf[ANL_BUF_SIZE];
};

struct anl_msg {
	union {
		struct nlmsghdr nlh;
		char buf[4096];
	};
};

static inline struct genlmsghdr *anl_genl(const struct nlmsghdr *nlh)
{
	return (struct genlmsghdr *)NLMSG_DATA(nlh);
}

/* 0 or -errno. */
static inline int anl_open(struct anl *nl)
{
	struct timeval tv = { .tv_sec = ANL_TIMEOUT_MS / 1000 };
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	socklen_t len = sizeof(sa);
	int one = 1;

	memset(nl, 0, sizeof(*nl) - sizeof(nl->buf));
	nl->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	if (nl->fd < 0)
		return -errno;
	if (bind(nl->fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    getsockname(nl->fd, (struct sockaddr *)&sa, &len) ||
	    setsockopt(nl->fd, SOL_NETLINK, NETLINK_EXT_ACK, &one,
		       sizeof(one)) ||
	    setsockopt(nl->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv))) {
		int err = -errno;

		close(nl->fd);
		nl->fd = -1;
		return err;
	}
	nl->portid = sa.nl_pid;
	nl->seq = 1000;
	return 0;
}

static inline void anl_close(struct anl *nl)
{
	if (nl->fd >= 0)
		close(nl->fd);
	nl->fd = -1;
}

/* ---- building requests ----------------------------------------------- */

static inline void anl_msg_init(struct anl_msg *m, uint16_t type,
				uint16_t flags, uint8_t cmd, uint8_t version)
{
	struct genlmsghdr *g;

	memset(m, 0, sizeof(*m));
	m->nlh.nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN);
	m->nlh.nlmsg_type = type;
	m->nlh.nlmsg_flags = NLM_F_REQUEST | flags;
	g = anl_genl(&m->nlh);
	g->cmd = cmd;
	g->version = version;
}

/* An attribute with @len bytes of payload; returns it for tweaking. */
static inline struct nlattr *anl_put(struct anl_msg *m, uint16_t type,
				     const void *data, uint16_t len)
{
	struct nlattr *a = (struct nlattr *)(m->buf +
					     NLMSG_ALIGN(m->nlh.nlmsg_len));

	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + len;
	if (len)
		memcpy((char *)a + NLA_HDRLEN, data, len);
	m->nlh.nlmsg_len = NLMSG_ALIGN(m->nlh.nlmsg_len) + NLA_ALIGN(a->nla_len);
	return a;
}

static inline void anl_put_u32(struct anl_msg *m, uint16_t type, uint32_t v)
{
	anl_put(m, type, &v, sizeof(v));
}

static inline void anl_put_str(struct anl_msg *m, uint16_t type,
			       const char *s)
{
	anl_put(m, type, s, strlen(s) + 1);
}

/* ---- walking replies --------------------------------------------------- */

static inline const struct nlattr *anl_attr_first(const struct nlmsghdr *nlh,
						  size_t hdrlen, int *rem)
{
	size_t off = NLMSG_HDRLEN + NLMSG_ALIGN(hdrlen);

	*rem = nlh->nlmsg_len > off ? (int)(nlh->nlmsg_len - off) : 0;
	return (const struct nlattr *)((const char *)nlh + off);
}

static inline bool anl_attr_ok(const struct nlattr *a, int rem)
{
	return rem >= (int)sizeof(*a) && a->nla_len >= sizeof(*a) &&
	       a->nla_len <= rem;
}

static inline const struct nlattr *anl_attr_next(const struct nlattr *a,
						 int *rem)
{
	*rem -= NLA_ALIGN(a->nla_len);
	return (const struct nlattr *)((const char *)a + NLA_ALIGN(a->nla_len));
}

#define anl_for_each_attr(a, first, rem) \
	for (a = (first); anl_attr_ok(a, rem); a = anl_attr_next(a, &(rem)))

static inline int anl_attr_type(const struct nlattr *a)
{
	return a->nla_type & NLA_TYPE_MASK;
}

static inline int anl_attr_len(const struct nlattr *a)
{
	return a->nla_len - NLA_HDRLEN;
}

static inline const void *anl_attr_data(const struct nlattr *a)
{
	return (const char *)a + NLA_HDRLEN;
}

static inline uint32_t anl_u32(const struct nlattr *a)
{
	uint32_t v;

	memcpy(&v, anl_attr_data(a), sizeof(v));
	return v;
}

static inline uint64_t anl_u64(const struct nlattr *a)
{
	uint64_t v;

	memcpy(&v, anl_attr_data(a), sizeof(v));
	return v;
}

/*
 * Index the attributes after @hdrlen bytes of family header into
 * tb[0..max]; types above @max are counted in *@unknown (may be NULL).
 * -EBADMSG if an attribute overruns the message or a type repeats.
 */
static inline int anl_parse(const struct nlmsghdr *nlh, size_t hdrlen,
			    const struct nlattr **tb, int max, int *unknown)
{
	const struct nlattr *a;
	int rem;

	memset(tb, 0, (max + 1) * sizeof(*tb));
	if (unknown)
		*unknown = 0;
	anl_for_each_attr(a, anl_attr_first(nlh, hdrlen, &rem), rem) {
		int t = anl_attr_type(a);

		if (t > max) {
			if (unknown)
				(*unknown)++;
			continue;
		}
		if (tb[t])
			return -EBADMSG;
		tb[t] = a;
	}
	return rem == 0 ? 0 : -EBADMSG;
}

/* Same for the attributes nested in @nest. */
static inline int anl_parse_nested(const struct nlattr *nest,
				   const struct nlattr **tb, int max)
{
	const struct nlattr *a;
	int rem = anl_attr_len(nest);

	memset(tb, 0, (max + 1) * sizeof(*tb));
	anl_for_each_attr(a, (const struct nlattr *)anl_attr_data(nest), rem) {
		if (anl_attr_type(a) <= max)
			tb[anl_attr_type(a)] = a;
	}
	return rem == 0 ? 0 : -EBADMSG;
}

/* ---- talking ------------------------------------------------------------ */

/* Called for every reply that is not NLMSG_ERROR/DONE; nonzero stops. */
typedef int (*anl_cb)(const struct nlmsghdr *nlh, void *arg);

static inline int anl_send(struct anl *nl, struct nlmsghdr *nlh)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };

	nlh->nlmsg_seq = ++nl->seq;
	nlh->nlmsg_pid = nl->portid;
	if (sendto(nl->fd, nlh, nlh->nlmsg_len, 0, (struct sockaddr *)&sa,
		   sizeof(sa)) != (ssize_t)nlh->nlmsg_len)
		return -errno;
	return 0;
}

/*
 * The extack TLVs of an NLMSG_ERROR (after the struct nlmsgerr and, unless
 * capped, the echoed request) or of an NLMSG_DONE (after the int error),
 * into nl->extack*.
 */
static inline void anl_extack(struct anl *nl, const struct nlmsghdr *nlh)
{
	const struct nlmsgerr *e = NLMSG_DATA(nlh);
	const struct nlattr *tb[NLMSGERR_ATTR_MAX + 1];
	size_t off;

	nl->extack[0] = '\0';
	nl->has_extack_offs = false;
	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return;
	if (nlh->nlmsg_type == NLMSG_DONE) {
		off = sizeof(int);
	} else {
		off = sizeof(*e);
		if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
			off += e->msg.nlmsg_len - sizeof(e->msg);
	}
	if (NLMSG_HDRLEN + NLMSG_ALIGN(off) > nlh->nlmsg_len ||
	    anl_parse(nlh, off, tb, NLMSGERR_ATTR_MAX, NULL))
		return;
	if (tb[NLMSGERR_ATTR_MSG] && anl_attr_len(tb[NLMSGERR_ATTR_MSG]) > 0) {
		int n = anl_attr_len(tb[NLMSGERR_ATTR_MSG]);

		if (n >= (int)sizeof(nl->extack))
			n = sizeof(nl->extack) - 1;
		memcpy(nl->extack, anl_attr_data(tb[NLMSGERR_ATTR_MSG]), n);
		nl->extack[n] = '\0';
	}
	if (tb[NLMSGERR_ATTR_OFFS] && anl_attr_len(tb[NLMSGERR_ATTR_OFFS]) == 4) {
		nl->has_extack_offs = true;
		nl->extack_offs = anl_u32(tb[NLMSGERR_ATTR_OFFS]);
	}
}

/*
 * Receive the replies to sequence number @seq until the ACK, an error or
 * NLMSG_DONE (or, for a request that asked for neither an ACK nor a dump,
 * the first reply). Returns 0, the request's -errno, -EBADMSG for a
 * malformed reply, or -ETIMEDOUT.
 */
static inline int anl_recv_reply(struct anl *nl, uint32_t seq, bool one,
				 anl_cb cb, void *arg)
{
	int ret = 0;

	nl->extack[0] = '\0';
	nl->has_extack_offs = false;
	for (;;) {
		struct nlmsghdr *nlh;
		ssize_t n = recv(nl->fd, nl->buf, sizeof(nl->buf), 0);
		int len;

		if (n < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		len = n;
		for (nlh = (struct nlmsghdr *)nl->buf; NLMSG_OK(nlh, len);
		     nlh = NLMSG_NEXT(nlh, len)) {
			if (nlh->nlmsg_seq != seq)
				continue;	/* a stale reply */
			if (nlh->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(nlh);

				if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
					return -EBADMSG;
				if (e->error)
					anl_extack(nl, nlh);
				return ret ? ret : e->error;
			}
			if (nlh->nlmsg_type == NLMSG_DONE) {
				int err = 0;

				if (nlh->nlmsg_len >= NLMSG_LENGTH(sizeof(err)))
					memcpy(&err, NLMSG_DATA(nlh), sizeof(err));
				if (err)
					anl_extack(nl, nlh);
				return ret ? ret : err;
			}
			if (cb && !ret)
				ret = cb(nlh, arg);
			if (one)
				return ret;
		}
		if (len)
			return -EBADMSG;
	}
}

/* Send @m and receive its replies (see anl_recv_reply()). */
static inline int anl_talk(struct anl *nl, struct anl_msg *m, anl_cb cb,
			   void *arg)
{
	bool one = !(m->nlh.nlmsg_flags & (NLM_F_ACK | NLM_F_DUMP));
	int err = anl_send(nl, &m->nlh);

	return err ? err : anl_recv_reply(nl, m->nlh.nlmsg_seq, one, cb, arg);
}

/* A dump of @cmd of the resolved family, without request attributes. */
static inline int anl_dump(struct anl *nl, uint8_t cmd, anl_cb cb, void *arg)
{
	struct anl_msg m;

	anl_msg_init(&m, nl->family, NLM_F_DUMP, cmd, ARENA_NL_FAMILY_VERSION);
	return anl_talk(nl, &m, cb, arg);
}

/* ---- the family ----------------------------------------------------------- */

static inline int anl_family_cb(const struct nlmsghdr *nlh, void *arg)
{
	const struct nlattr *tb[CTRL_ATTR_MAX + 1], *grp, *op;
	struct anl *nl = arg;
	int rem;

	if (anl_parse(nlh, GENL_HDRLEN, tb, CTRL_ATTR_MAX, NULL))
		return -EBADMSG;
	if (!tb[CTRL_ATTR_FAMILY_ID] || anl_attr_len(tb[CTRL_ATTR_FAMILY_ID]) != 2)
		return -EBADMSG;
	memcpy(&nl->family, anl_attr_data(tb[CTRL_ATTR_FAMILY_ID]), 2);
	if (tb[CTRL_ATTR_VERSION])
		nl->version = anl_u32(tb[CTRL_ATTR_VERSION]);
	if (tb[CTRL_ATTR_MCAST_GROUPS]) {
		rem = anl_attr_len(tb[CTRL_ATTR_MCAST_GROUPS]);
		anl_for_each_attr(grp, (const struct nlattr *)
				  anl_attr_data(tb[CTRL_ATTR_MCAST_GROUPS]), rem) {
			const struct nlattr *g[CTRL_ATTR_MCAST_GRP_MAX + 1];

			if (anl_parse_nested(grp, g, CTRL_ATTR_MCAST_GRP_MAX) ||
			    !g[CTRL_ATTR_MCAST_GRP_NAME] ||
			    !g[CTRL_ATTR_MCAST_GRP_ID])
				continue;
			if (!strcmp(anl_attr_data(g[CTRL_ATTR_MCAST_GRP_NAME]),
				    ARENA_NL_MCGRP_EVENTS))
				nl->events_grp = anl_u32(g[CTRL_ATTR_MCAST_GRP_ID]);
		}
	}
	if (tb[CTRL_ATTR_OPS]) {
		rem = anl_attr_len(tb[CTRL_ATTR_OPS]);
		anl_for_each_attr(op, (const struct nlattr *)
				  anl_attr_data(tb[CTRL_ATTR_OPS]), rem) {
			const struct nlattr *o[CTRL_ATTR_OP_MAX + 1];
			uint32_t id;

			if (anl_parse_nested(op, o, CTRL_ATTR_OP_MAX) ||
			    !o[CTRL_ATTR_OP_ID])
				continue;
			id = anl_u32(o[CTRL_ATTR_OP_ID]);
			if (id < 32) {
				nl->op_known[id] = true;
				nl->op_flags[id] = o[CTRL_ATTR_OP_FLAGS] ?
					anl_u32(o[CTRL_ATTR_OP_FLAGS]) : 0;
			}
		}
	}
	return 0;
}

/* 0, -ENOENT if the kernel has no such family, or another -errno. */
static inline int anl_resolve(struct anl *nl, const char *name)
{
	struct anl_msg m;

	anl_msg_init(&m, GENL_ID_CTRL, NLM_F_ACK, CTRL_CMD_GETFAMILY, 1);
	anl_put_str(&m, CTRL_ATTR_FAMILY_NAME, name);
	nl->family = 0;
	return anl_talk(nl, &m, anl_family_cb, nl) ?: (nl->family ? 0 : -ENOENT);
}

/* ---- events ----------------------------------------------------------------- */

static inline int anl_join(struct anl *nl, uint32_t grp)
{
	return setsockopt(nl->fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &grp,
			  sizeof(grp)) ? -errno : 0;
}

/*
 * Wait up to @ms for notifications (sequence number 0) and hand each to
 * @cb until it returns nonzero. Returns what @cb returned, -ETIMEDOUT, or
 * -errno (-ENOBUFS: the socket overran and events were lost).
 */
static inline int anl_wait_event(struct anl *nl, int ms, anl_cb cb, void *arg)
{
	struct pollfd pfd = { .fd = nl->fd, .events = POLLIN };
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct nlmsghdr *nlh;
		int left, len, r;
		ssize_t n;

		clock_gettime(CLOCK_MONOTONIC, &t);
		left = ms - (int)((t.tv_sec - t0.tv_sec) * 1000 +
				  (t.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0)
			return -ETIMEDOUT;
		r = poll(&pfd, 1, left);
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r <= 0)
			continue;
		n = recv(nl->fd, nl->buf, sizeof(nl->buf), MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return -errno;
		}
		len = n;
		for (nlh = (struct nlmsghdr *)nl->buf; NLMSG_OK(nlh, len);
		     nlh = NLMSG_NEXT(nlh, len)) {
			if (nlh->nlmsg_seq != 0 || nlh->nlmsg_type != nl->family)
				continue;
			r = cb(nlh, arg);
			if (r)
				return r;
		}
	}
}

#endif /* ARENA_NL_HELPERS_H */
