// SPDX-License-Identifier: GPL-2.0
/*
 * Description: the tracepoints in tracefs (events/arena/) fire for arena
 * create and free, chunk map, quarantine, zero and release, and a
 * use-after-free fault; and the counters in /sys/kernel/arena move as
 * documented when the same operations run. A use-after-free made by
 * another process reaching into the window (process_vm_readv) names the
 * window's owner, and the other process as the one that made the access.
 */
#include "arena_helpers.h"	/* first: it defines _GNU_SOURCE */

#include <sys/mount.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "kselftest_harness.h"

#define TRACEFS "/sys/kernel/tracing"

/* The whole trace buffer as a string (caller frees), or NULL. */
static char *read_trace(void)
{
	size_t cap = 1 << 20, len = 0;
	char *buf = malloc(cap);
	int fd = open(TRACEFS "/trace", O_RDONLY);
	ssize_t n;

	if (!buf || fd < 0) {
		free(buf);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	while (len < cap - 1 && (n = read(fd, buf + len, cap - 1 - len)) > 0)
		len += n;
	buf[len] = '\0';
	close(fd);
	return buf;
}

FIXTURE(trace) {
	int fd;
	long pool_high;
	struct arena_info info;
	char *base;
};

FIXTURE_SETUP(trace)
{
	self->base = NULL;
	self->pool_high = arena_param("pool_high");
	self->fd = open(ARENA_DEV, O_RDWR | O_CLOEXEC);
	if (self->fd < 0)
		SKIP(return, "cannot open %s", ARENA_DEV);
	if (access(TRACEFS "/trace", F_OK))
		mount("tracefs", TRACEFS, "tracefs", 0, NULL);
	if (access(TRACEFS "/events/arena/enable", W_OK))
		SKIP(return, "no tracefs events/arena");
	ASSERT_EQ(0, arena_get_info(self->fd, &self->info));
	self->base = arena_map_window(self->fd, self->info.out_window_size);
	ASSERT_NE(NULL, self->base);
	ASSERT_EQ(0, write_file_str(TRACEFS "/trace", ""));
	ASSERT_EQ(0, write_file_str(TRACEFS "/events/arena/enable", "1"));
}

FIXTURE_TEARDOWN(trace)
{
	write_file_str(TRACEFS "/events/arena/enable", "0");
	if (self->pool_high >= 0)
		arena_param_set("pool_high", self->pool_high);
	if (self->base)
		munmap(self->base, 2 * self->info.out_window_size);
	if (self->fd >= 0)
		close(self->fd);
}

TEST_F(trace, every_event_fires)
{
	static const char *const events[] = {
		"arena_create:", "arena_chunk_map:", "arena_free:",
		"arena_chunk_zero:", "arena_chunk_release:",
		"arena_chunk_quarantine:", "arena_uaf_fault:",
	};
	long created = arena_counter("arenas_created");
	long freed = arena_counter("arenas_freed");
	long mapped = arena_counter("chunks_mapped");
	long uaf = arena_counter("uaf_faults");
	long held = arena_counter("chunks_held");
	long zeroed = arena_counter("pages_zeroed");
	char want[64], *log;
	int pfd[2];
	uint64_t off;
	long id;

	/* Room in the ready pool, so that freed chunks are zeroed. */
	ASSERT_EQ(0, arena_param_set("pool_high",
				     arena_counter("chunks_ready") + 16));
	id = arena_create_id(self->fd);
	ASSERT_GT(id, 0);
	ASSERT_EQ(0, arena_chunks(self->fd, id, 2, &off));
	memset(self->base + off, 9, 4096);
	/* A pipe holds a page: the chunk goes to quarantine on free. */
	ASSERT_EQ(0, pipe(pfd));
	struct iovec iov = { .iov_base = self->base + off, .iov_len = 4096 };

	ASSERT_EQ(4096, vmsplice(pfd[1], &iov, 1, 0));
	ASSERT_EQ(0, arena_free_id(self->fd, id));
	EXPECT_TRUE(faults_at(self->base + off + 64));
	close(pfd[0]);
	close(pfd[1]);
	/* Let the pool zero the chunks, then drain it: zero and release. */
	ASSERT_TRUE(arena_counter_wait("chunks_quarantined", 0, 30000));
	ASSERT_TRUE(arena_pool_settle(30000));
	ASSERT_EQ(0, arena_drain());

	EXPECT_EQ(created + 1, arena_counter("arenas_created"));
	EXPECT_EQ(freed + 1, arena_counter("arenas_freed"));
	EXPECT_EQ(mapped + 2, arena_counter("chunks_mapped"));
	EXPECT_EQ(uaf + 2, arena_counter("uaf_faults"));
	EXPECT_EQ(held + 1, arena_counter("chunks_held"));
	EXPECT_LE(zeroed + 2 * (long)(self->info.out_chunk_size / 4096),
		  arena_counter("pages_zeroed"));

	ASSERT_EQ(0, write_file_str(TRACEFS "/events/arena/enable", "0"));
	log = read_trace();
	ASSERT_NE(NULL, log);
	for (size_t i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
		if (!strstr(log, events[i]))
			TH_LOG("missing %s in:\n%.2000s", events[i], log);
		EXPECT_NE(NULL, strstr(log, events[i]));
	}
	snprintf(want, sizeof(want), "arena_create: arena=%ld", id);
	EXPECT_NE(NULL, strstr(log, want));
	snprintf(want, sizeof(want), "arena=%ld offset=0x40", id);
	EXPECT_NE(NULL, strstr(log, want));
	free(log);
}

TEST(byte_counters_match_chunk_counters)
{
	static const char *const states[] = {
		"ready", "in_use", "quarantined", "dirty", "total",
	};
	long cs = arena_counter("chunk_size");
	char name[64];

	if (cs < 0)
		SKIP(return, "module not loaded");
	/*
	 * Both files read one counter, but at two moments, and the pool's
	 * worker may move a chunk between them (it refills after the last
	 * test's drain). So read again until one snapshot (the chunk count
	 * the same before and after the bytes) agrees; a wrong byte count
	 * never does.
	 */
	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
		long chunks, bytes, again;
		int tries = 0;

		do {
			snprintf(name, sizeof(name), "chunks_%s", states[i]);
			chunks = arena_counter(name);
			snprintf(name, sizeof(name), "bytes_%s", states[i]);
			bytes = arena_counter(name);
			snprintf(name, sizeof(name), "chunks_%s", states[i]);
			again = arena_counter(name);
		} while ((chunks != again || chunks * cs != bytes) &&
			 ++tries < 1000);
		if (chunks * cs != bytes)
			TH_LOG("%s: %ld chunks, %ld bytes", states[i], chunks,
			       bytes);
		EXPECT_EQ(chunks, again);
		EXPECT_EQ(chunks * cs, bytes);
	}
}

TEST(node_counters_add_up)
{
	long sums[4] = { 0 };
	static const char *const f[] = { "ready", "in_use", "quarantined",
					  "dirty" };
	static const char *const g[] = { "chunks_ready", "chunks_in_use",
					  "chunks_quarantined",
					  "chunks_dirty" };
	char dir[64];
	int nid, nodes = 0;

	if (arena_counter("chunk_size") < 0)
		SKIP(return, "module not loaded");
	if (!arena_pool_settle(20000))
		TH_LOG("pool not settled: total %ld ready %ld in_use %ld quarantined %ld dirty %ld",
		       arena_counter("chunks_total"),
		       arena_counter("chunks_ready"),
		       arena_counter("chunks_in_use"),
		       arena_counter("chunks_quarantined"),
		       arena_counter("chunks_dirty"));
	for (nid = 0; nid < 64; nid++) {
		snprintf(dir, sizeof(dir), "/sys/kernel/arena/node%d", nid);
		if (access(dir, F_OK))
			continue;
		nodes++;
		for (int i = 0; i < 4; i++)
			sums[i] += read_long_file(dir, f[i]);
	}
	ASSERT_GT(nodes, 0);
	for (int i = 0; i < 4; i++)
		EXPECT_EQ(arena_counter(g[i]), sums[i]);
}

/*
 * process_vm_readv() of a freed arena from another process: the fault runs
 * in the reader's context, but the report names the window's owner, with
 * the reader as "via".
 */
TEST_F(trace, remote_uaf_names_the_owner)
{
	char want_pid[32], want_via[32], *log, *line;
	pid_t child;
	uint64_t off;
	bool found = false;
	int st;
	long id;

	id = arena_create_id(self->fd);
	ASSERT_GT(id, 0);
	ASSERT_EQ(0, arena_chunks(self->fd, id, 1, &off));
	memset(self->base + off, 5, 4096);
	ASSERT_EQ(0, arena_free_id(self->fd, id));
	child = fork();
	ASSERT_LE(0, child);
	if (child == 0) {
		char b;
		struct iovec l = { .iov_base = &b, .iov_len = 1 };
		struct iovec r = { .iov_base = self->base + off + 8,
				   .iov_len = 1 };

		_exit(process_vm_readv(getppid(), &l, 1, &r, 1, 0) == -1 &&
		      errno == EFAULT ? 0 : 1);
	}
	ASSERT_EQ(child, waitpid(child, &st, 0));
	ASSERT_TRUE(WIFEXITED(st));
	EXPECT_EQ(0, WEXITSTATUS(st));

	ASSERT_EQ(0, write_file_str(TRACEFS "/events/arena/enable", "0"));
	log = read_trace();
	ASSERT_NE(NULL, log);
	snprintf(want_pid, sizeof(want_pid), " pid=%d ", getpid());
	snprintf(want_via, sizeof(want_via), " via=%d", child);
	for (line = strtok(log, "\n"); line; line = strtok(NULL, "\n"))
		if (strstr(line, "arena_uaf_fault:") &&
		    strstr(line, want_pid) && strstr(line, want_via))
			found = true;
	EXPECT_TRUE(found);
	free(log);
}

TEST_HARNESS_MAIN
