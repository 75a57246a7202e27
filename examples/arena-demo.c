// SPDX-License-Identifier: MIT
/*
 * arena-demo: what libarena is for, in one run.
 *
 * A server-shaped loop: 1000 requests, each a JSON document parsed into a
 * tree whose every node and string lives in the request's own arena, then
 * summed up, then dropped with one arena_free(). The same work is then done
 * with malloc/free for comparison. Finally the program does what buggy
 * programs do, keeps a pointer from an old request, and uses it: the kernel
 * faults at the exact address and the program names the arena it was in.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/klog.h>
#include <time.h>
#include <unistd.h>

#include <libarena.h>

#define NREQ 1000

enum kind { J_NULL, J_NUM, J_STR, J_ARR, J_OBJ };

struct node {
	enum kind kind;
	double num;
	const char *str;	/* J_STR value, or the key inside an object */
	const char *key;
	struct node *child, *next;
};

/* The allocator the parser uses: an arena, or malloc with a free list. */
struct alloc {
	struct arena *arena;
	void **ptrs;		/* malloc mode: everything to free */
	size_t n, cap;
	size_t bytes;
};

static void *xalloc(struct alloc *al, size_t size)
{
	void *p;

	al->bytes += size;
	if (al->arena)
		return arena_alloc(al->arena, size);
	p = malloc(size);
	if (p && al->n == al->cap) {
		al->cap = al->cap ? 2 * al->cap : 256;
		al->ptrs = realloc(al->ptrs, al->cap * sizeof(*al->ptrs));
		if (!al->ptrs) {
			perror("realloc");
			exit(1);
		}
	}
	if (p)
		al->ptrs[al->n++] = p;
	return p;
}

struct parser {
	const char *s;
	struct alloc *al;
	size_t nodes;
};

static void skip_ws(struct parser *ps)
{
	while (isspace((unsigned char)*ps->s))
		ps->s++;
}

static struct node *parse_value(struct parser *ps);

static const char *parse_string(struct parser *ps)
{
	const char *start = ++ps->s;
	size_t len;
	char *out;

	while (*ps->s && *ps->s != '"')
		ps->s++;
	len = ps->s - start;
	if (*ps->s == '"')
		ps->s++;
	out = xalloc(ps->al, len + 1);
	if (!out)
		return NULL;
	memcpy(out, start, len);
	out[len] = '\0';
	return out;
}

static struct node *new_node(struct parser *ps, enum kind kind)
{
	struct node *n = xalloc(ps->al, sizeof(*n));

	if (n) {
		memset(n, 0, sizeof(*n));
		n->kind = kind;
		ps->nodes++;
	}
	return n;
}

static struct node *parse_list(struct parser *ps, enum kind kind, char close)
{
	struct node *n = new_node(ps, kind), **tail;

	if (!n)
		return NULL;
	tail = &n->child;
	ps->s++;
	for (;;) {
		const char *key = NULL;
		struct node *v;

		skip_ws(ps);
		if (*ps->s == close || !*ps->s) {
			if (*ps->s)
				ps->s++;
			return n;
		}
		if (kind == J_OBJ) {
			key = parse_string(ps);
			skip_ws(ps);
			if (*ps->s == ':')
				ps->s++;
		}
		v = parse_value(ps);
		if (!v)
			return NULL;
		v->key = key;
		*tail = v;
		tail = &v->next;
		skip_ws(ps);
		if (*ps->s == ',')
			ps->s++;
	}
}

static struct node *parse_value(struct parser *ps)
{
	struct node *n;
	char *end;

	skip_ws(ps);
	switch (*ps->s) {
	case '{':
		return parse_list(ps, J_OBJ, '}');
	case '[':
		return parse_list(ps, J_ARR, ']');
	case '"':
		n = new_node(ps, J_STR);
		if (n)
			n->str = parse_string(ps);
		return n;
	case 'n':
		ps->s += 4;
		return new_node(ps, J_NULL);
	default:
		n = new_node(ps, J_NUM);
		if (n) {
			n->num = strtod(ps->s, &end);
			ps->s = end > ps->s ? end : ps->s + 1;
		}
		return n;
	}
}

/* The request's "work": total of every "amount", count of "error" items. */
static void summarise(const struct node *n, double *total, long *errors)
{
	for (; n; n = n->next) {
		if (n->key && n->kind == J_NUM && !strcmp(n->key, "amount"))
			*total += n->num;
		if (n->key && n->kind == J_STR && !strcmp(n->key, "level") &&
		    !strcmp(n->str, "error"))
			(*errors)++;
		summarise(n->child, total, errors);
	}
}

/* A request body: an order with a few dozen line items and log entries. */
static char *make_request(int i, size_t *len)
{
	size_t cap = 16384, off = 0;
	char *buf = malloc(cap);
	int items = 20 + i % 40, k;

	if (!buf)
		return NULL;
	off += snprintf(buf + off, cap - off,
			"{\"request\": %d, \"user\": \"user-%05d\", \"items\": [", i,
			i * 7919 % 100000);
	for (k = 0; k < items && off < cap - 512; k++)
		off += snprintf(buf + off, cap - off,
				"%s{\"sku\": \"SKU-%04d-%02d\", \"amount\": %d.%02d, \"tags\": [\"a\", \"b%d\"]}",
				k ? ", " : "", i % 9973, k, (i * 31 + k) % 500,
				k % 100, k % 7);
	off += snprintf(buf + off, cap - off, "], \"log\": [");
	for (k = 0; k < items / 4 && off < cap - 256; k++)
		off += snprintf(buf + off, cap - off,
				"%s{\"level\": \"%s\", \"msg\": \"step %d done\", \"ms\": %d}",
				k ? ", " : "", (i + k) % 17 ? "info" : "error",
				k, (i * k) % 1000);
	off += snprintf(buf + off, cap - off, "], \"meta\": null}");
	*len = off;
	return buf;
}

/* A counter from /sys/kernel/arena/, -1 if unreadable. */
static long sysfs_counter(const char *name)
{
	char path[128];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/kernel/arena/%s", name);
	f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

struct run_result {
	double ms, total;
	long errors;
	size_t nodes, bytes;
	size_t mapped, runs;	/* arenas: what they held, summed */
};

/* Serve every request, each with its own arena or with malloc. */
static int serve_all(char **reqs, int use_arena, struct run_result *res,
		     const char **kept, unsigned int *kept_arena)
{
	double t0 = now_ms();
	int i;

	memset(res, 0, sizeof(*res));
	for (i = 0; i < NREQ; i++) {
		struct alloc al = { 0 };
		struct parser ps = { .s = reqs[i], .al = &al };
		struct node *root;

		if (use_arena) {
			al.arena = arena_new(0);
			if (!al.arena) {
				fprintf(stderr, "arena_new: %s\n", strerror(errno));
				return -1;
			}
		}
		root = parse_value(&ps);
		if (!root) {
			fprintf(stderr, "request %d: out of memory: %s\n", i,
				strerror(errno));
			return -1;
		}
		summarise(root, &res->total, &res->errors);
		res->nodes += ps.nodes;
		res->bytes += al.bytes;
		/* The bug the last act relies on: a pointer that outlives
		 * its request.
		 */
		if (use_arena && i == NREQ / 2 && kept) {
			/* root->child is "request", its next is "user". */
			*kept = root->child->next->str;
			*kept_arena = arena_id(al.arena);
		}
		if (use_arena) {
			struct arena_stats st;

			if (!arena_stats(al.arena, &st)) {
				res->mapped += st.mapped;
				res->runs += st.chunks + st.small_runs;
			}
			arena_free(al.arena);
		} else {
			while (al.n)
				free(al.ptrs[--al.n]);
			free(al.ptrs);
		}
	}
	res->ms = now_ms() - t0;
	return 0;
}

static sigjmp_buf uaf_jmp;
static void *volatile uaf_addr;

static void on_segv(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	uaf_addr = si->si_addr;
	siglongjmp(uaf_jmp, 1);
}

/* Print the kernel's own report of the fault, if the log can be read. */
static void show_kernel_report(void)
{
	static char log[1 << 16];
	int n = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, log, sizeof(log) - 1);
	char *line, *last = NULL, *save;

	if (n <= 0)
		return;
	log[n] = '\0';
	for (line = strtok_r(log, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save))
		if (strstr(line, "arena: use-after-free"))
			last = line;
	if (last) {
		/* Drop the "<5>" priority prefix. */
		if (last[0] == '<' && strchr(last, '>'))
			last = strchr(last, '>') + 1;
		printf("   the kernel log says:\n     %s\n", last);
	}
}

int main(void)
{
	struct run_result ar, ml;
	const char *kept = NULL;
	unsigned int kept_arena = 0;
	struct arena_addr_info info;
	struct sigaction sa = { 0 };
	char *reqs[NREQ];
	size_t total_len = 0, len;
	int i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("arena demo: per-request arenas on /dev/arena\n\n");
	for (i = 0; i < NREQ; i++) {
		reqs[i] = make_request(i, &len);
		if (!reqs[i]) {
			perror("malloc");
			return 1;
		}
		total_len += len;
	}
	printf("1. %d JSON requests generated (%zu KiB). Each is parsed into a tree\n"
	       "   whose nodes and strings live in the request's own arena, then\n"
	       "   summed, then the arena is freed in one call.\n\n",
	       NREQ, total_len / 1024);

	if (serve_all(reqs, 1, &ar, &kept, &kept_arena))
		return 1;
	if (serve_all(reqs, 0, &ml, NULL, NULL))
		return 1;
	if (ar.total != ml.total || ar.errors != ml.errors ||
	    ar.nodes != ml.nodes) {
		fprintf(stderr, "results differ between arena and malloc runs\n");
		return 1;
	}
	printf("   %zu nodes, %.1f MiB allocated in %d arenas, which held\n"
	       "   %.1f MiB in %zu runs (%.1f KiB an arena)\n",
	       ar.nodes, ar.bytes / 1048576.0, NREQ, ar.mapped / 1048576.0,
	       ar.runs, ar.mapped / 1024.0 / NREQ);
	printf("   total amount %.2f, %ld error log entries\n\n", ar.total,
	       ar.errors);
	printf("2. The same work with malloc/free (same answers):\n");
	printf("   arena:  %8.1f ms for %d requests\n", ar.ms, NREQ);
	printf("   malloc: %8.1f ms for %d requests   (measured just now, in this VM)\n",
	       ml.ms, NREQ);
	printf("   A request's first run is sized from what the requests before\n"
	       "   it used (one page at the start), each next run doubles: the\n"
	       "   kernel carves these small runs out of %zu KiB chunks\n"
	       "   that the process's arenas share, and revokes exactly an\n"
	       "   arena's pages when it is freed. A chunk is re-zeroed once all\n"
	       "   its arenas are gone (%ld so far by the pool's background\n"
	       "   thread, %ld inline when it fell behind). Each free and each\n"
	       "   fresh page costs a system call or a page fault, which malloc\n"
	       "   does not pay; that is the price of the next act.\n\n",
	       arena_chunk_size() / 1024, sysfs_counter("chunks_zeroed"),
	       sysfs_counter("chunks_zeroed_inline"));

	printf("3. A bug: request %d's \"user\" string was kept after its arena\n"
	       "   was freed. Reading it now:\n", NREQ / 2);
	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, NULL);
	if (!sigsetjmp(uaf_jmp, 1)) {
		volatile char c = kept[0];

		printf("   read '%c': the bug went unnoticed (this must not happen)\n",
		       c);
		return 1;
	}
	printf("   SIGSEGV at %p (the exact address of the stale pointer: %s)\n",
	       uaf_addr, uaf_addr == (void *)kept ? "yes" : "NO");
	if (arena_lookup(uaf_addr, &info) == 0 &&
	    info.state == ARENA_ADDR_FREED) {
		printf("   it belonged to arena %u (request %d's, id %u), offset %zu,\n"
		       "   freed %.1f ms ago by pid %d\n",
		       info.arena_id, NREQ / 2, kept_arena, info.offset,
		       info.freed_ns_ago / 1e6, info.freed_by_pid);
	}
	show_kernel_report();
	printf("\nWith malloc that read would have returned whatever the next\n"
	       "request put there. With arena it stops at the line that did it.\n");
	for (i = 0; i < NREQ; i++)
		free(reqs[i]);
	return uaf_addr == (void *)kept ? 0 : 1;
}
