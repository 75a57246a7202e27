// SPDX-License-Identifier: MIT
/*
 * request-server: a per-request arena in a small server loop.
 *
 * A client thread sends NREQ requests over a socketpair, a line each:
 *
 *	GET /items?id=17&tag=red&tag=blue
 *
 * and, every 50th, a request the server must refuse. The server reads a
 * line, creates an arena for the request and puts all of the request's
 * memory in it: the copy of the line, the parsed parameters (a linked
 * list) and the response text. It writes the response and frees the arena
 * with one call: no free() per object, nothing leaks when a handler bails
 * out early, and a pointer into the request that outlives it faults
 * instead of reading the next request's bytes (examples/uaf-suite.c shows
 * that part). The client checks every response.
 *
 * Output: a summary of what was served and checked, then where the last
 * request's memory is now (arena_lookup: freed). Exit status 0 when every
 * response was right.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libarena.h>

#define NREQ		1000
#define BAD_EVERY	50

static const char *const tags[] = { "red", "green", "blue", "cyan", "grey" };

struct param {
	const char *key, *value;
	struct param *next;
};

/* The parsed request: every byte of it lives in the request's arena. */
struct request {
	char *line;
	const char *method, *path;
	struct param *params;
};

static FILE *open_stream(int fd, const char *mode)
{
	FILE *f = fdopen(fd, mode);

	if (!f) {
		perror("fdopen");
		exit(1);
	}
	return f;
}

/* "k=v&k=v" into a list, in order; the strings are copies in @a. */
static struct param *parse_query(struct arena *a, const char *q)
{
	struct param *head = NULL, **tail = &head;

	while (*q) {
		size_t len = strcspn(q, "&"), klen = strcspn(q, "=");
		struct param *p = arena_alloc(a, sizeof(*p));

		if (!p)
			return NULL;
		if (klen > len)
			klen = len;
		p->key = arena_strndup(a, q, klen);
		p->value = arena_strndup(a, q + klen + (klen < len), len - klen - (klen < len));
		p->next = NULL;
		*tail = p;
		tail = &p->next;
		q += len + (q[len] == '&');
	}
	return head;
}

/* 0, or -1 if the line is not "GET /path?query". */
static int parse_request(struct arena *a, const char *text, struct request *r)
{
	char *sp, *qm;

	r->line = arena_strdup(a, text);
	if (!r->line)
		return -1;
	r->line[strcspn(r->line, "\n")] = '\0';
	sp = strchr(r->line, ' ');
	if (!sp || strncmp(r->line, "GET ", 4))
		return -1;
	*sp = '\0';
	r->method = r->line;
	r->path = sp + 1;
	qm = strchr(sp + 1, '?');
	if (qm) {
		*qm = '\0';
		r->params = parse_query(a, qm + 1);
	}
	return 0;
}

/* The response, formatted into the arena. */
static char *respond(struct arena *a, const struct request *r, int ok)
{
	const char *id = "?";
	unsigned int ntags = 0;
	size_t len;
	char *out;

	for (const struct param *p = r->params; p; p = p->next) {
		if (!strcmp(p->key, "id"))
			id = p->value;
		else if (!strcmp(p->key, "tag"))
			ntags++;
	}
	if (!ok)
		return arena_strdup(a, "400 bad request\n");
	len = snprintf(NULL, 0, "200 %s id=%s tags=%u\n", r->path, id, ntags) + 1;
	out = arena_alloc(a, len);
	if (out)
		snprintf(out, len, "200 %s id=%s tags=%u\n", r->path, id, ntags);
	return out;
}

struct client_result {
	int fd;
	unsigned int checked, wrong;
};

static void *client(void *arg)
{
	struct client_result *res = arg;
	FILE *in = open_stream(dup(res->fd), "r"), *out = open_stream(res->fd, "w");
	char want[128], got[128];

	for (unsigned int i = 0; i < NREQ; i++) {
		unsigned int ntags = i % 5;

		if (i % BAD_EVERY == BAD_EVERY - 1) {
			fputs("BREW /coffee\n", out);
			snprintf(want, sizeof(want), "400 bad request\n");
		} else {
			fprintf(out, "GET /items?id=%u", i);
			for (unsigned int t = 0; t < ntags; t++)
				fprintf(out, "&tag=%s", tags[t]);
			fputc('\n', out);
			snprintf(want, sizeof(want), "200 /items id=%u tags=%u\n", i, ntags);
		}
		fflush(out);
		if (!fgets(got, sizeof(got), in))
			break;
		res->checked++;
		if (strcmp(got, want)) {
			if (res->wrong++ < 5)
				fprintf(stderr, "client: request %u: got %s", i, got);
		}
	}
	fclose(out);	/* the server sees EOF */
	fclose(in);
	return NULL;
}

int main(void)
{
	struct client_result res = { 0 };
	struct arena_addr_info info;
	unsigned int served = 0, bad = 0;
	size_t most = 0, runs = 0, mapped = 0;
	const char *last = NULL;
	char line[1024];
	pthread_t tid;
	FILE *in, *out;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) {
		perror("socketpair");
		return 1;
	}
	res.fd = sv[1];
	if (pthread_create(&tid, NULL, client, &res)) {
		perror("pthread_create");
		return 1;
	}
	in = open_stream(dup(sv[0]), "r");
	out = open_stream(sv[0], "w");

	/* The server loop: one arena per request, freed when it is answered. */
	while (fgets(line, sizeof(line), in)) {
		struct arena *a = arena_new(0);
		struct request r = { 0 };
		struct arena_stats st;
		int ok;
		char *resp;

		if (!a) {
			perror("arena_new");
			return 1;
		}
		ok = parse_request(a, line, &r) == 0;
		resp = respond(a, &r, ok);
		if (!resp) {
			perror("arena_alloc");
			return 1;
		}
		fputs(resp, out);
		fflush(out);
		if (arena_stats(a, &st) == 0 && st.requested > most) {
			most = st.requested;
			runs = st.chunks + st.small_runs;
			mapped = st.mapped;
		}
		served++;
		bad += !ok;
		last = resp;
		arena_free(a);		/* the request's every byte, at once */
	}
	fclose(out);
	fclose(in);
	pthread_join(tid, NULL);

	printf("backend: %s\n", arena_backend());
	printf("served %u requests: %u ok, %u bad request\n", served, served - bad, bad);
	printf("client: %u responses checked, %u wrong\n", res.checked, res.wrong);
	printf("largest request: %zu bytes in %zu run(s) of %zu KiB, one arena each\n",
	       most, runs, mapped >> 10);
	if (last && arena_lookup(last, &info) == 0)
		printf("last response's memory: %s (arena %u)\n",
		       info.state == ARENA_ADDR_FREED ? "freed" :
		       info.state == ARENA_ADDR_LIVE ? "live" : "unknown",
		       info.arena_id);
	return served == NREQ && res.checked == NREQ && !res.wrong ? 0 : 1;
}
