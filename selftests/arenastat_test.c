// SPDX-License-Identifier: GPL-2.0
/*
 * Description: arenastat (tools/arenastat), run as the VM packs it
 * (/tools/arenastat, or $ARENASTAT), against what the module says in
 * /sys/kernel/arena and what the test itself did: the vmstat-style summary
 * (columns, repeated header, rates), -p and -a listings, the quarantine,
 * monitor with a use-after-free made while it listens, -j output parsed as
 * strict JSON in every mode, SIGINT, and exit status 2 with a usage message
 * on bad arguments.
 *
 * Skips without the tool, /dev/arena or the "arena" netlink family.
 */
#include "arena_helpers.h"	/* first: it defines _GNU_SOURCE */
#include "arena_json.h"
#include "arena_nl_helpers.h"

#include <grp.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>

#include "kselftest_harness.h"

#define TOOL_DEFAULT	"/tools/arenastat"
#define RUN_MS		20000
#define NOBODY		65534

/* @a and @b differ by at most @tol (the tool rounds MiB and rates). */
#define EXPECT_NEAR(a, b, tol) do {					\
	double _a = (a), _b = (b);					\
									\
	EXPECT_TRUE(_a - _b <= (tol) && _b - _a <= (tol))		\
		TH_LOG("%s = %g, %s = %g", #a, _a, #b, _b);		\
} while (0)

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

/* ---- running the tool ------------------------------------------------- */

struct run {
	int status;		/* exit status, 128 + signal, or -1: timeout */
	uint64_t ms;		/* how long it ran */
	size_t nout, nerr;
	char out[1 << 17];
	char err[1 << 13];
};

/* Called every 20 ms while the tool runs (to make events for it). */
typedef void (*tick_fn)(void *arg);

static pid_t spawn(const char *tool, char *const args[], int *outfd,
		   int *errfd, bool nobody)
{
	char *argv[16] = { (char *)tool };
	int o[2], e[2], i;
	pid_t pid;

	for (i = 0; args[i] && i < 14; i++)
		argv[i + 1] = args[i];
	if (pipe2(o, O_CLOEXEC) || pipe2(e, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid == 0) {
		dup2(o[1], 1);
		dup2(e[1], 2);
		if (nobody && (setgroups(0, NULL) || setgid(NOBODY) ||
			       setuid(NOBODY)))
			_exit(126);
		execv(tool, argv);
		_exit(127);
	}
	close(o[1]);
	close(e[1]);
	*outfd = o[0];
	*errfd = e[0];
	return pid;
}

/* Read both pipes until they close (at most @ms), then reap. */
static void collect(pid_t pid, int outfd, int errfd, struct run *r, int ms,
		    tick_fn tick, void *arg, int sig_after_ms)
{
	struct pollfd pfd[2] = { { .fd = outfd, .events = POLLIN },
				 { .fd = errfd, .events = POLLIN } };
	uint64_t t0 = now_ms();
	bool signalled = false;
	int status, open = 2;

	r->nout = r->nerr = 0;
	r->status = -1;
	while (open && now_ms() - t0 < (uint64_t)ms) {
		int i;

		if (sig_after_ms >= 0 && !signalled &&
		    now_ms() - t0 >= (uint64_t)sig_after_ms) {
			kill(pid, SIGINT);
			signalled = true;
		}
		if (poll(pfd, 2, 20) < 0 && errno != EINTR)
			break;
		for (i = 0; i < 2; i++) {
			char *buf = i ? r->err : r->out;
			size_t *n = i ? &r->nerr : &r->nout;
			size_t cap = (i ? sizeof(r->err) : sizeof(r->out)) - 1;
			char scratch[512];
			ssize_t got;

			if (pfd[i].fd < 0 || !(pfd[i].revents & (POLLIN | POLLHUP)))
				continue;
			if (*n < cap)
				got = read(pfd[i].fd, buf + *n, cap - *n);
			else
				got = read(pfd[i].fd, scratch, sizeof(scratch));
			if (got <= 0) {
				close(pfd[i].fd);
				pfd[i].fd = -1;
				open--;
			} else if (*n < cap) {
				*n += got;
			}
		}
		if (tick)
			tick(arg);
	}
	r->out[r->nout] = '\0';
	r->err[r->nerr] = '\0';
	if (open) {
		kill(pid, SIGKILL);
		for (int i = 0; i < 2; i++)
			if (pfd[i].fd >= 0)
				close(pfd[i].fd);
		waitpid(pid, &status, 0);
		r->ms = now_ms() - t0;
		return;
	}
	waitpid(pid, &status, 0);
	r->ms = now_ms() - t0;
	r->status = WIFEXITED(status) ? WEXITSTATUS(status) :
					128 + WTERMSIG(status);
}

static int run_ex(const char *tool, struct run *r, tick_fn tick, void *arg,
		  int sig_after_ms, bool nobody, char *const args[])
{
	int outfd, errfd;
	pid_t pid = spawn(tool, args, &outfd, &errfd, nobody);

	if (pid < 0)
		return -1;
	collect(pid, outfd, errfd, r, RUN_MS, tick, arg, sig_after_ms);
	return r->status;
}

#define RUN(r, ...) \
	run_ex(self->tool, (r), NULL, NULL, -1, false, \
	       (char *const[]){ __VA_ARGS__, NULL })

/* ---- looking at the output --------------------------------------------- */

/* Line @i (from 0) of @text into @buf; false if there is none. */
static bool line_of(const char *text, int i, char *buf, size_t len)
{
	const char *end;

	while (i-- > 0) {
		text = strchr(text, '\n');
		if (!text)
			return false;
		text++;
	}
	if (!*text)
		return false;
	end = strchrnul(text, '\n');
	snprintf(buf, len, "%.*s", (int)(end - text), text);
	return true;
}

static int count_lines(const char *text, const char *prefix)
{
	char line[1024];
	int i, n = 0;

	for (i = 0; line_of(text, i, line, sizeof(line)); i++)
		n += !strncmp(line, prefix, strlen(prefix));
	return n;
}

/* Summary data lines: those that start with (blanks and) a digit. */
static int data_lines(const char *text, double rows[][13], int max)
{
	char line[1024];
	int i, n = 0;

	for (i = 0; line_of(text, i, line, sizeof(line)); i++) {
		const char *p = line + strspn(line, " ");
		double *v;

		if (*p < '0' || *p > '9')
			continue;
		if (n == max)
			return -1;
		v = rows[n++];
		if (sscanf(line, "%lf %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf",
			   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
			   &v[7], &v[8], &v[9], &v[10], &v[11], &v[12]) != 13)
			return -1;
	}
	return n;
}

/* The summary's columns. */
enum {
	C_READY, C_IN_USE, C_QUAR, C_DIRTY, C_TOTAL, C_MIB_IN_USE, C_MIB_TOTAL,
	C_CREATED, C_FREED, C_MAPPED, C_RELEASED, C_ZEROED, C_UAF,
};

/* The tool's output in the log, as KTAP diagnostics. */
static void log_output(const char *what, const char *text)
{
	char line[1024];
	int i;

	fprintf(stderr, "# %s:\n", what);
	for (i = 0; line_of(text, i, line, sizeof(line)); i++)
		fprintf(stderr, "#   %s\n", line);
}

static struct json *parse_or_log(struct __test_metadata *_metadata,
				 const char *text)
{
	char err[128];
	struct json *j = json_parse(text, err, sizeof(err));

	if (!j) {
		TH_LOG("not JSON: %s", err);
		log_output("the output", text);
	}
	return j;
}

/* ---- the fixture --------------------------------------------------------- */

FIXTURE(stat) {
	const char *tool;
	int fd;
	struct arena_info info;
	char *base;
	size_t cs;
	long pool_low, pool_high;
	char comm[16];
	struct run r;
};

FIXTURE_SETUP(stat)
{
	struct anl nl;
	int err;

	self->base = NULL;
	self->fd = -1;
	self->pool_low = arena_param("pool_low");
	self->pool_high = arena_param("pool_high");
	self->tool = getenv("ARENASTAT") ?: TOOL_DEFAULT;
	if (access(self->tool, X_OK))
		SKIP(return, "no %s (set ARENASTAT)", self->tool);
	self->fd = open(ARENA_DEV, O_RDWR | O_CLOEXEC);
	if (self->fd < 0)
		SKIP(return, "cannot open %s: %s", ARENA_DEV, strerror(errno));
	ASSERT_EQ(0, anl_open(&nl));
	err = anl_resolve(&nl, ARENA_NL_FAMILY_NAME);
	anl_close(&nl);
	if (err == -ENOENT)
		SKIP(return, "no generic netlink family \"%s\"",
		     ARENA_NL_FAMILY_NAME);
	ASSERT_EQ(0, err);
	ASSERT_EQ(0, arena_get_info(self->fd, &self->info));
	self->cs = self->info.out_chunk_size;
	self->base = arena_map_window(self->fd, self->info.out_window_size);
	ASSERT_NE(NULL, self->base);
	memset(self->comm, 0, sizeof(self->comm));
	prctl(PR_GET_NAME, self->comm);
}

FIXTURE_TEARDOWN(stat)
{
	if (self->base)
		munmap(self->base, 2 * self->info.out_window_size);
	if (self->fd >= 0)
		close(self->fd);
	if (self->pool_high > 0) {
		arena_param_set("pool_high", 65536);
		arena_param_set("pool_low", self->pool_low);
		arena_param_set("pool_high", self->pool_high);
	}
}

static void pool_quiet(struct __test_metadata *_metadata)
{
	ASSERT_EQ(0, arena_param_set("pool_high", 64));
	ASSERT_EQ(0, arena_param_set("pool_low", 0));
	ASSERT_TRUE(arena_pool_settle(30000));
}

static long new_arena(FIXTURE_DATA(stat) *self, unsigned int nr)
{
	long id = arena_create_id(self->fd);
	uint64_t off;

	if (id <= 0 || (nr && arena_chunks(self->fd, id, nr, &off)))
		return -1;
	return id;
}

/* ---- the summary ---------------------------------------------------------- */

TEST_F(stat, summary_columns_are_the_pool)
{
	double row[2][13];
	char line[1024];
	long id;

	pool_quiet(_metadata);
	id = new_arena(self, 3);
	ASSERT_GT(id, 0);
	ASSERT_EQ(0, RUN(&self->r, "-h")) TH_LOG("%s", self->r.err);
	EXPECT_NE(NULL, strstr(self->r.out, "usage:"));

	ASSERT_EQ(0, run_ex(self->tool, &self->r, NULL, NULL, -1, false,
			    (char *const[]){ NULL }))
		TH_LOG("%s", self->r.err);
	log_output("arenastat", self->r.out);
	EXPECT_EQ(0, self->r.nerr) TH_LOG("stderr: %s", self->r.err);
	ASSERT_TRUE(line_of(self->r.out, 0, line, sizeof(line)));
	EXPECT_NE(NULL, strstr(line, " chunks ")) TH_LOG("%s", line);
	EXPECT_NE(NULL, strstr(line, " per second ")) TH_LOG("%s", line);
	ASSERT_TRUE(line_of(self->r.out, 1, line, sizeof(line)));
	EXPECT_NE(NULL, strstr(line, "ready  in_use quarant   dirty   total"))
		TH_LOG("%s", line);
	EXPECT_NE(NULL, strstr(line, "created  freed  mapped released   zeroed   uaf"))
		TH_LOG("%s", line);
	ASSERT_EQ(1, data_lines(self->r.out, row, 2));
	EXPECT_EQ(arena_counter("chunks_ready"), row[0][C_READY]);
	EXPECT_EQ(arena_counter("chunks_in_use"), row[0][C_IN_USE]);
	EXPECT_EQ(arena_counter("chunks_quarantined"), row[0][C_QUAR]);
	EXPECT_EQ(arena_counter("chunks_dirty"), row[0][C_DIRTY]);
	EXPECT_EQ(arena_counter("chunks_total"), row[0][C_TOTAL]);
	EXPECT_EQ(row[0][C_TOTAL], row[0][C_READY] + row[0][C_IN_USE] +
		  row[0][C_QUAR] + row[0][C_DIRTY]);
	EXPECT_GE(row[0][C_IN_USE], 3);
	EXPECT_NEAR(row[0][C_IN_USE] * self->cs / 1048576.0,
		    row[0][C_MIB_IN_USE], 0.051);
	EXPECT_NEAR(row[0][C_TOTAL] * self->cs / 1048576.0,
		    row[0][C_MIB_TOTAL], 0.051);
	/* The first line: the counts since the module was loaded. */
	EXPECT_EQ(arena_counter("arenas_created"), row[0][C_CREATED]);
	EXPECT_EQ(arena_counter("arenas_freed"), row[0][C_FREED]);
	EXPECT_EQ(arena_counter("chunks_mapped"), row[0][C_MAPPED]);
	EXPECT_EQ(arena_counter("chunks_released"), row[0][C_RELEASED]);
	EXPECT_EQ(arena_counter("pages_zeroed"), row[0][C_ZEROED]);
	EXPECT_EQ(arena_counter("uaf_faults"), row[0][C_UAF]);
	EXPECT_EQ(0, arena_free_id(self->fd, id));
}

TEST_F(stat, summary_header_repeats_like_vmstat)
{
	static double row[30][13];

	/* Not a terminal: a header every 21 reports, as vmstat. */
	ASSERT_EQ(0, RUN(&self->r, "0.02", "23")) TH_LOG("%s", self->r.err);
	EXPECT_EQ(23, data_lines(self->r.out, row, 30));
	EXPECT_EQ(2, count_lines(self->r.out, "---"));
	EXPECT_EQ(2, count_lines(self->r.out, "  ready"));
}

/* Create and free arenas while the tool samples. */
static void churn_tick(void *arg)
{
	FIXTURE_DATA(stat) *self = arg;

	for (int i = 0; i < 5; i++) {
		long id = arena_create_id(self->fd);

		if (id > 0)
			arena_free_id(self->fd, id);
	}
}

TEST_F(stat, summary_rates_are_per_second)
{
	double row[3][13];
	int i;

	ASSERT_EQ(0, run_ex(self->tool, &self->r, churn_tick, self, -1, false,
			    (char *const[]){ "0.5", "3", NULL }))
		TH_LOG("%s", self->r.err);
	log_output("arenastat", self->r.out);
	ASSERT_EQ(3, data_lines(self->r.out, row, 3));
	for (i = 1; i < 3; i++) {
		/* About 5 per 20 ms; TCG is slow, so be generous. */
		EXPECT_GE(row[i][C_CREATED], 10);
		EXPECT_GE(row[i][C_FREED], 10);
		EXPECT_LE(row[i][C_CREATED], 1000);
	}
}

TEST_F(stat, summary_json)
{
	const struct json *nodes, *s0, *s1;
	struct json *j;
	long long sum = 0;
	double dt, rate;
	long id;
	int i;

	pool_quiet(_metadata);
	id = new_arena(self, 2);
	ASSERT_GT(id, 0);
	ASSERT_EQ(0, RUN(&self->r, "-j")) TH_LOG("%s", self->r.err);
	j = parse_or_log(_metadata, self->r.out);
	ASSERT_NE(NULL, j);
	ASSERT_EQ(JSON_OBJECT, j->type);
	EXPECT_EQ((long long)self->cs, json_uint(j, "chunk_size"));
	EXPECT_EQ(arena_counter("chunks_ready"), json_uint(j, "chunks.ready"));
	EXPECT_EQ(arena_counter("chunks_in_use"), json_uint(j, "chunks.in_use"));
	EXPECT_EQ(arena_counter("chunks_quarantined"),
		  json_uint(j, "chunks.quarantined"));
	EXPECT_EQ(arena_counter("chunks_dirty"), json_uint(j, "chunks.dirty"));
	EXPECT_EQ(arena_counter("chunks_total"), json_uint(j, "chunks.total"));
	EXPECT_EQ(arena_counter("arenas_created"),
		  json_uint(j, "counters.arenas_created"));
	EXPECT_EQ(arena_counter("arenas_freed"),
		  json_uint(j, "counters.arenas_freed"));
	EXPECT_EQ(arena_counter("chunks_held"),
		  json_uint(j, "counters.chunks_quarantined"));
	EXPECT_EQ(arena_counter("uaf_faults"), json_uint(j, "counters.uaf_faults"));
	EXPECT_EQ(arena_counter("limit_hits"), json_uint(j, "counters.limit_hits"));
	ASSERT_NE(NULL, json_path(j, "rates"));
	EXPECT_EQ(JSON_NULL, json_path(j, "rates")->type);
	ASSERT_NE(NULL, json_path(j, "mib.in_use"));
	EXPECT_NEAR(json_uint(j, "chunks.in_use") * self->cs / 1048576.0,
		    json_path(j, "mib.in_use")->num, 0.051);
	nodes = json_get(j, "nodes");
	ASSERT_NE(NULL, nodes);
	ASSERT_EQ(JSON_ARRAY, nodes->type);
	ASSERT_GE(nodes->n, 1);
	for (i = 0; i < nodes->n; i++) {
		EXPECT_GE(json_uint(nodes->items[i], "node"), 0);
		sum += json_uint(nodes->items[i], "in_use");
	}
	EXPECT_EQ(json_uint(j, "chunks.in_use"), sum);
	json_free(j);
	EXPECT_EQ(0, arena_free_id(self->fd, id));

	/* With an interval: one array of samples, rates from the second. */
	ASSERT_EQ(0, run_ex(self->tool, &self->r, churn_tick, self, -1, false,
			    (char *const[]){ "-j", "0.3", "3", NULL }))
		TH_LOG("%s", self->r.err);
	j = parse_or_log(_metadata, self->r.out);
	ASSERT_NE(NULL, j);
	ASSERT_EQ(JSON_ARRAY, j->type);
	ASSERT_EQ(3, j->n);
	EXPECT_EQ(JSON_NULL, json_get(j->items[0], "rates")->type);
	for (i = 1; i < 3; i++) {
		s0 = j->items[i - 1];
		s1 = j->items[i];
		ASSERT_NE(NULL, json_path(s1, "rates.interval_s"));
		dt = json_path(s1, "rates.interval_s")->num;
		EXPECT_GT(dt, 0.2);
		EXPECT_LT(dt, 5);
		ASSERT_NE(NULL, json_path(s1, "rates.arenas_created"));
		rate = json_path(s1, "rates.arenas_created")->num;
		/* Rate x interval is the counter's step (rounding aside). */
		EXPECT_NEAR(json_uint(s1, "counters.arenas_created") -
			    json_uint(s0, "counters.arenas_created"),
			    rate * dt, 1.0);
		EXPECT_GT(rate, 0);
		EXPECT_GT(json_path(s1, "time")->num, json_path(s0, "time")->num);
	}
	json_free(j);
}

TEST_F(stat, sigint_ends_cleanly)
{
	struct json *j;

	/* An endless summary: SIGINT ends it, and the JSON array is whole. */
	EXPECT_EQ(0, run_ex(self->tool, &self->r, NULL, NULL, 700, false,
			    (char *const[]){ "-j", "0.1", NULL }))
		TH_LOG("%s", self->r.err);
	EXPECT_LT(self->r.ms, 5000);
	j = parse_or_log(_metadata, self->r.out);
	ASSERT_NE(NULL, j);
	EXPECT_EQ(JSON_ARRAY, j->type);
	EXPECT_GE(j->n, 2);
	json_free(j);

	EXPECT_EQ(0, run_ex(self->tool, &self->r, NULL, NULL, 500, false,
			    (char *const[]){ "monitor", NULL }))
		TH_LOG("%s", self->r.err);
	EXPECT_LT(self->r.ms, 5000);
}

/* ---- arenas ---------------------------------------------------------------- */

TEST_F(stat, arenas_of_a_pid)
{
	static const unsigned int nr[2] = { 1, 3 };
	char pid[16], line[1024], want[256];
	struct json *j;
	long id[2];
	int i, k;

	for (i = 0; i < 2; i++) {
		id[i] = new_arena(self, nr[i]);
		ASSERT_GT(id[i], 0);
	}
	snprintf(pid, sizeof(pid), "%d", getpid());

	ASSERT_EQ(0, RUN(&self->r, "-p", pid)) TH_LOG("%s", self->r.err);
	log_output("arenastat", self->r.out);
	ASSERT_TRUE(line_of(self->r.out, 0, line, sizeof(line)));
	EXPECT_NE(NULL, strstr(line, "PID")) TH_LOG("%s", line);
	EXPECT_NE(NULL, strstr(line, "COMM"));
	EXPECT_NE(NULL, strstr(line, "ARENA"));
	EXPECT_NE(NULL, strstr(line, "CHUNKS"));
	EXPECT_NE(NULL, strstr(line, "MiB"));
	EXPECT_NE(NULL, strstr(line, "STATE"));
	EXPECT_FALSE(line_of(self->r.out, 3, line, sizeof(line)));
	for (i = 0; i < 2; i++) {
		bool found = false;

		for (k = 1; line_of(self->r.out, k, line, sizeof(line)); k++) {
			unsigned int p, a;
			unsigned long c;
			char comm[32], state[16];
			double mib;

			if (sscanf(line, "%u %31s %u %lu %lf %15s", &p, comm, &a,
				   &c, &mib, state) != 6 || a != id[i])
				continue;
			found = true;
			EXPECT_EQ(getpid(), p);
			EXPECT_STREQ(self->comm, comm);
			EXPECT_EQ(nr[i], c);
			EXPECT_NEAR(nr[i] * self->cs / 1048576.0, mib, 0.051);
			EXPECT_STREQ("live", state);
		}
		EXPECT_TRUE(found) TH_LOG("arena %ld not listed", id[i]);
	}

	ASSERT_EQ(0, RUN(&self->r, "-j", "-p", pid)) TH_LOG("%s", self->r.err);
	j = parse_or_log(_metadata, self->r.out);
	ASSERT_NE(NULL, j);
	ASSERT_EQ(JSON_ARRAY, j->type);
	ASSERT_EQ(2, j->n);
	for (i = 0; i < 2; i++) {
		const struct json *a = j->items[0];

		if (json_uint(a, "arena_id") != id[i])
			a = j->items[1];
		EXPECT_EQ(id[i], json_uint(a, "arena_id"));
		EXPECT_EQ(getpid(), json_uint(a, "pid"));
		EXPECT_EQ(nr[i], json_uint(a, "chunks"));
		EXPECT_EQ(nr[i] * self->cs, json_uint(a, "bytes_mapped"));
		EXPECT_STREQ("live", json_str(a, "state") ?: "");
		EXPECT_STREQ(self->comm, json_str(a, "comm") ?: "");
	}
	json_free(j);

	/* No such process: an empty listing, not an error. */
	ASSERT_EQ(0, RUN(&self->r, "-j", "-p", "4000000"));
	j = parse_or_log(_metadata, self->r.out);
	ASSERT_NE(NULL, j);
	EXPECT_EQ(JSON_ARRAY, j->type);
	EXPECT_EQ(0, j->n);
	json_free(j);
	ASSERT_EQ(0, RUN(&self->r, "-p", "4000000"));
	EXPECT_EQ(1, count_lines(self->r.out, ""));

	snprintf(want, sizeof(want), "%7d %-16s", getpid(), self->comm);
	ASSERT_EQ(0, RUN(&self->r, "-a"));
	EXPECT_NE(NULL, strstr(self->r.out, want)) log_output("arenastat", self->r.out);
}

TEST_F(stat, json_escapes_odd_comm)
{
	static const char odd[] = "a\"b\\c\td\x01\xc3";
	char pid[16];
	struct json *j;
	long id;

	id = new_arena(self, 0);
	ASSERT_GT(id, 0);
	ASSERT_EQ(0, prctl(PR_SET_NAME, odd));
	snprintf(pid, sizeof(pid), "%d", getpid());
	ASSERT_EQ(0, RUN(&self->r, "-j", "-p", pid)) TH_LOG("%s", self->r.err);
	prctl(PR_SET_NAME, self->comm);
	j = parse_or_log(_metadata, self->r.out);
	ASSERT_NE(NULL, j);
	ASSERT_EQ(1, j->n);
	/* Bytes above 0x7f come back as '?' from this parser. */
	EXPECT_STREQ("a\"b\\c\td\x01?", json_str(j->items[0], "comm") ?: "");
	json_free(j);
}

TEST_F(stat, all_arenas_as_another_user)
{
	struct json *j;
	long id = new_arena(self, 1);
	int i;

	ASSERT_GT(id, 0);
	ASSERT_EQ(0, RUN(&self->r, "-j", "-a")) TH_LOG("%s", self->r.err);
	j = parse_or_log(_metadata, self->r.out);
	ASSERT_NE(NULL, j);
	ASSERT_EQ(JSON_ARRAY, j->type);
	for (i = 0; i < j->n; i++)
		if (json_uint(j->items[i], "arena_id") == id &&
		    json_uint(j->items[i], "pid") == getpid())
			break;
	EXPECT_LT(i, j->n) TH_LOG("root does not see its own arena");
	json_free(j);

	/* uid 65534 sees none of root's. */
	ASSERT_EQ(0, run_ex(self->tool, &self->r, NULL, NULL, -1, true,
			    (char *const[]){ "-j", "-a", NULL }))
		TH_LOG("%s", self->r.err);
	j = parse_or_log(_metadata, self->r.out);
	ASSERT_NE(NULL, j);
	ASSERT_EQ(JSON_ARRAY, j->type);
	EXPECT_EQ(0, j->n) log_output("arenastat", self->r.out);
	json_free(j);
}

/* ---- the quarantine ------------------------------------------------------ */

TEST_F(stat, quarantine_listing)
{
	static char buf[2 * PAGE_SZ];
	const struct json *q = NULL;
	struct json *before, *after;
	struct iovec iov[2];
	long id, q0;
	uint64_t off;
	int pfd[2], i, k;
	size_t done = 0;
	ssize_t n;

	q0 = arena_counter("chunks_quarantined");
	ASSERT_EQ(0, RUN(&self->r, "-j", "quarantine")) TH_LOG("%s", self->r.err);
	before = parse_or_log(_metadata, self->r.out);
	ASSERT_NE(NULL, before);
	ASSERT_EQ(JSON_ARRAY, before->type);

	/* A pipe keeps two pages of a freed arena's chunk. */
	id = arena_create_id(self->fd);
	ASSERT_GT(id, 0);
	ASSERT_EQ(0, arena_chunks(self->fd, id, 1, &off));
	memset(self->base + off, 0x5a, self->cs);
	ASSERT_EQ(0, pipe(pfd));
	iov[0] = (struct iovec){ self->base + off, PAGE_SZ };
	iov[1] = (struct iovec){ self->base + off + self->cs / 2, PAGE_SZ };
	ASSERT_EQ(2 * PAGE_SZ, vmsplice(pfd[1], iov, 2, 0));
	ASSERT_EQ(0, arena_free_id(self->fd, id));
	EXPECT_TRUE(arena_counter_wait("chunks_quarantined", q0 + 1, 2000));

	ASSERT_EQ(0, RUN(&self->r, "-j", "quarantine")) TH_LOG("%s", self->r.err);
	after = parse_or_log(_metadata, self->r.out);
	ASSERT_NE(NULL, after);
	ASSERT_EQ(JSON_ARRAY, after->type);
	for (i = 0; i < after->n; i++) {
		for (k = 0; k < before->n; k++)
			if (json_uint(before->items[k], "id") ==
			    json_uint(after->items[i], "id"))
				break;
		if (k == before->n)
			q = after->items[i];
	}
	ASSERT_NE(NULL, q) log_output("arenastat", self->r.out);
	EXPECT_STREQ("referenced", json_str(q, "hold") ?: "");
	EXPECT_EQ((long long)self->cs, json_uint(q, "bytes"));
	EXPECT_GE(json_uint(q, "node"), 0);
	EXPECT_GE(json_uint(q, "held_ms"), 0);
	EXPECT_GT(json_uint(q, "id"), 0);

	ASSERT_EQ(0, RUN(&self->r, "quarantine")) TH_LOG("%s", self->r.err);
	log_output("arenastat", self->r.out);
	EXPECT_NE(NULL, strstr(self->r.out, "HELD_BY"));
	EXPECT_NE(NULL, strstr(self->r.out, "referenced"));

	/* Read the pipe: gone from the listing. */
	while (done < sizeof(buf) &&
	       (n = read(pfd[0], buf + done, sizeof(buf) - done)) > 0)
		done += n;
	close(pfd[0]);
	close(pfd[1]);
	EXPECT_TRUE(arena_counter_wait("chunks_quarantined", q0, 2000));
	ASSERT_EQ(0, RUN(&self->r, "-j", "quarantine"));
	json_free(before);
	before = parse_or_log(_metadata, self->r.out);
	ASSERT_NE(NULL, before);
	for (i = 0; i < before->n; i++)
		EXPECT_NE(json_uint(q, "id"), json_uint(before->items[i], "id"));
	json_free(before);
	json_free(after);
}

/* ---- monitor ---------------------------------------------------------------- */

struct uaf_maker {
	FIXTURE_DATA(stat) *self;
	int n;
	uint32_t id[512];
	uintptr_t addr[512];
	uint64_t rel;
	bool small;	/* small arenas of 4 pages (ARENA_IOC_ALLOC) */
};

/* One use-after-free per tick, each in a new arena. */
static void uaf_tick(void *arg)
{
	struct uaf_maker *m = arg;
	FIXTURE_DATA(stat) * self = m->self;
	void *fault;
	uint64_t off;
	char *p, v;
	long id;

	if (m->n == 512)
		return;
	if (m->small) {
		struct arena_alloc al = {
			.size = sizeof(al), .flags = ARENA_ALLOC_CREATE,
			.length = 4 * PAGE_SZ,
		};

		if (arena_ioc(self->fd, ARENA_IOC_ALLOC, &al))
			return;
		id = al.arena_id;
		off = al.out_offset;
	} else {
		id = arena_create_id(self->fd);
		if (id <= 0 || arena_chunks(self->fd, id, 1, &off))
			return;
	}
	self->base[off] = 1;
	arena_free_id(self->fd, id);
	p = self->base + off + m->rel;
	if (try_read(p, &v, &fault))
		return;
	m->id[m->n] = id;
	m->addr[m->n++] = (uintptr_t)p;
}

static int uaf_index(const struct uaf_maker *m, uint64_t addr)
{
	for (int i = 0; i < m->n; i++)
		if (m->addr[i] == addr)
			return i;
	return -1;
}

TEST_F(stat, monitor_json_reports_a_uaf)
{
	struct uaf_maker m = { .self = self, .rel = 0x2468 };
	struct json *j;
	int i;

	ASSERT_EQ(0, run_ex(self->tool, &self->r, uaf_tick, &m, -1, false,
			    (char *const[]){ "-j", "monitor", "-n", "1",
					     "-t", "15", NULL }))
		TH_LOG("%s", self->r.err);
	log_output("arenastat monitor", self->r.out);
	EXPECT_EQ(1, count_lines(self->r.out, ""));
	j = parse_or_log(_metadata, self->r.out);
	ASSERT_NE(NULL, j);
	ASSERT_EQ(JSON_OBJECT, j->type);
	EXPECT_STREQ("uaf", json_str(j, "event") ?: "");
	i = uaf_index(&m, json_uint(j, "addr"));
	ASSERT_GE(i, 0) TH_LOG("the event's address is none of the %d made", m.n);
	EXPECT_EQ(m.id[i], json_uint(j, "arena_id"));
	EXPECT_EQ(m.rel, json_uint(j, "offset"));
	EXPECT_EQ(getpid(), json_uint(j, "pid"));
	EXPECT_EQ(getpid(), json_uint(j, "freed_by_pid"));
	EXPECT_STREQ(self->comm, json_str(j, "comm") ?: "");
	EXPECT_GE(json_uint(j, "freed_ns_ago"), 0);
	ASSERT_NE(NULL, json_get(j, "time"));
	EXPECT_EQ(JSON_NUMBER, json_get(j, "time")->type);
	json_free(j);
}

/* Two use-after-frees in the text monitor, as the kernel log has them. */
static void monitor_text(struct __test_metadata *_metadata,
			 FIXTURE_DATA(stat) *self, bool small)
{
	struct uaf_maker m = { .self = self, .rel = 0x1234, .small = small };
	char want[256];
	const char *p;
	uint64_t addr;
	int i;

	ASSERT_EQ(0, run_ex(self->tool, &self->r, uaf_tick, &m, -1, false,
			    (char *const[]){ "monitor", "-n", "2", "-t", "15",
					     NULL }))
		TH_LOG("%s", self->r.err);
	log_output("arenastat monitor", self->r.out);
	EXPECT_EQ(2, count_lines(self->r.out, ""));
	p = strstr(self->r.out, "address 0x");
	ASSERT_NE(NULL, p);
	addr = strtoull(p + strlen("address "), NULL, 16);
	i = uaf_index(&m, addr);
	ASSERT_GE(i, 0);
	snprintf(want, sizeof(want),
		 "use-after-free: pid %d (%s) address %#lx: arena %u offset %#lx, freed ",
		 getpid(), self->comm, (unsigned long)addr, m.id[i],
		 (unsigned long)m.rel);
	EXPECT_NE(NULL, strstr(self->r.out, want)) TH_LOG("want: %s", want);
	snprintf(want, sizeof(want), " us ago by pid %d\n", getpid());
	EXPECT_NE(NULL, strstr(self->r.out, want));
}

TEST_F(stat, monitor_text_reports_a_uaf)
{
	monitor_text(_metadata, self, false);
}

/* The same for small arenas: the offset counts from the small run. */
TEST_F(stat, monitor_text_reports_a_small_arena_uaf)
{
	monitor_text(_metadata, self, true);
}

TEST_F(stat, monitor_timeout)
{
	/* Nothing happens: -t alone ends quietly... */
	ASSERT_EQ(0, RUN(&self->r, "monitor", "-t", "0.5")) TH_LOG("%s", self->r.err);
	EXPECT_EQ(0, self->r.nout);
	EXPECT_GE(self->r.ms, 400);
	/* ...but -n that is not reached is a failure. */
	ASSERT_EQ(1, RUN(&self->r, "monitor", "-n", "1", "-t", "0.5"));
	EXPECT_NE(NULL, strstr(self->r.err, "timed out")) TH_LOG("%s", self->r.err);
}

/* ---- arguments ------------------------------------------------------------ */

TEST_F(stat, bad_arguments_exit_2)
{
	static const char *const bad[][5] = {
		{ "-x" }, { "0" }, { "-1" }, { "abc" }, { "1", "0" },
		{ "1", "2", "3" }, { "-p", "abc" }, { "-p", "0" },
		{ "-p", "99999999999" }, { "-p", "1", "-a" },
		{ "-a", "quarantine" }, { "monitor", "extra" },
		{ "-n", "1" }, { "monitor", "-n", "0" },
		{ "monitor", "-t", "x" }, { "quarantine", "1" }, { "-p" },
	};
	unsigned int i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		EXPECT_EQ(2, run_ex(self->tool, &self->r, NULL, NULL, -1, false,
				    (char *const *)bad[i]))
			TH_LOG("arguments %u (%s %s ...)", i, bad[i][0],
			       bad[i][1] ?: "");
		EXPECT_NE(NULL, strstr(self->r.err, "usage:"))
			TH_LOG("arguments %u: %s", i, self->r.err);
		EXPECT_EQ(0, self->r.nout);
	}
}

TEST_HARNESS_MAIN
