// SPDX-License-Identifier: MIT
/*
 * apr_uaf: the pool-lifetime bug of APR programs, and libarena-apr catching
 * it.
 *
 * A server keeps a connection-lifetime struct in the connection's pool and
 * serves each request in a subpool that is cleared (or destroyed) after the
 * request. The bug, in the shape of real httpd bugs: the request handler
 * stores a string from the *request* pool in the connection struct
 * ("remember the last user"), and the next request reads it.
 *
 *   apr_uaf [clear|destroy]
 *
 * Under stock APR the next request reads whatever now lives there (another
 * request's data) and carries on. With the pools on arenas
 * (LD_PRELOAD=libarena-apr.so apr_uaf) the read faults at the exact
 * address: the program says where and dies of SIGSEGV; on the kernel
 * backend the kernel log names the arena and when it was freed.
 *
 * A normal dynamically linked APR program: nothing in it knows of arenas.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>

struct conn {
	const char *last_user;	/* BUG: points into a request pool */
	int requests;
};

static const void *kept;

/* @v as the kernel log prints addresses (%#lx), into @p[19]. */
static void fmt_hex(char *p, unsigned long v)
{
	int i, n = 0;

	p[n++] = '0';
	p[n++] = 'x';
	for (i = 60; i > 0 && !(v >> i); i -= 4)
		;
	for (; i >= 0; i -= 4)
		p[n++] = "0123456789abcdef"[(v >> i) & 0xf];
	p[n] = '\0';
}

/* Say where it faulted (async-signal-safe), then die of the signal. */
static void on_segv(int sig, siginfo_t *si, void *uc)
{
	char msg[160], a[20], k[20];
	const char *code = si->si_code == SEGV_ACCERR ? "SEGV_ACCERR" :
			   si->si_code == SEGV_MAPERR ? "SEGV_MAPERR" : "other";

	(void)uc;
	fmt_hex(a, (unsigned long)si->si_addr);
	fmt_hex(k, (unsigned long)kept);
	snprintf(msg, sizeof(msg),
		 "apr_uaf: SIGSEGV at %s (%s): %s the kept request-pool pointer %s\n",
		 a, code, si->si_addr == kept ? "exactly" : "not", k);
	if (write(2, msg, strlen(msg)) < 0)
		_exit(1);
	signal(sig, SIG_DFL);	/* return: the load faults again, and kills */
}

static void handle_request(struct conn *c, apr_pool_t *req, const char *user)
{
	char *u = apr_psprintf(req, "%s", user);

	if (c->last_user)
		printf("request %d (user %s): previous user was \"%s\"\n",
		       c->requests + 1, u, c->last_user);
	else
		printf("request %d (user %s): first request\n", c->requests + 1, u);
	fflush(stdout);
	c->last_user = u;		/* BUG: outlives req */
	kept = u;
	c->requests++;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "clear";
	static const char *const users[] = { "alice", "bob", "carol" };
	struct sigaction sa = { .sa_sigaction = on_segv, .sa_flags = SA_SIGINFO };
	apr_pool_t *conn_pool, *req = NULL;
	struct conn *c;
	int destroy, i;

	destroy = !strcmp(mode, "destroy");
	if (!destroy && strcmp(mode, "clear")) {
		fprintf(stderr, "usage: %s [clear|destroy]\n", argv[0]);
		return 2;
	}
	sigaction(SIGSEGV, &sa, NULL);
	if (apr_initialize() != APR_SUCCESS || apr_pool_create(&conn_pool, NULL))
		return 1;
	c = apr_pcalloc(conn_pool, sizeof(*c));
	for (i = 0; i < 3; i++) {
		if (!req && apr_pool_create(&req, conn_pool))
			return 1;
		handle_request(c, req, users[i]);
		if (destroy) {
			apr_pool_destroy(req);
			req = NULL;
		} else {
			apr_pool_clear(req);
		}
		printf("request %d done: request pool %s\n", i + 1,
		       destroy ? "destroyed" : "cleared");
		fflush(stdout);
	}
	printf("served %d requests; the last user was \"%s\"\n", c->requests,
	       c->last_user);
	apr_pool_destroy(conn_pool);
	apr_terminate();
	return 0;
}
