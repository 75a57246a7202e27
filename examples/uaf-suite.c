// SPDX-License-Identifier: MIT
/*
 * uaf-suite: catching a use-after-free in a test suite.
 *
 * A small test runner of the kind many projects have: each test is a
 * function, run under a SIGSEGV handler. With arenas, a use-after-free is
 * not silent corruption but a fault at the exact address, so the runner
 * can tell what happened:
 *
 * - the handler only records si_addr and jumps back to the runner
 *   (siglongjmp): nothing else is safe in a handler;
 * - the runner, back in normal context, asks arena_lookup() about the
 *   address. In a freed arena: a use-after-free, reported with the arena,
 *   the offset in it, how long ago it was freed and by which process.
 *   Anywhere else: an ordinary crash.
 *
 * The suite here has a real bug: test 3 caches a pointer into a request's
 * arena in a static variable, and the next request reads it after that
 * arena is gone. Before the access, the test prints the pointer and its
 * arena ("# kept ..."), so the report can be checked against it.
 *
 * Output: TAP, one line per test, the use-after-free diagnosis after the
 * failing one. Exit status: the number of failed tests (1 here).
 */
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <libarena.h>

static sigjmp_buf test_jmp;
static void *volatile fault_addr;
static volatile int fault_code;

static void on_segv(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	fault_addr = si->si_addr;
	fault_code = si->si_code;
	siglongjmp(test_jmp, 1);
}

/* --- the code under test ------------------------------------------------ */

struct user {
	const char *name;
	unsigned int visits;
};

/* BUG (for test 3): remembers the first user across requests. */
static const struct user *first_user;

/* Handle one request in its own arena; returns the name's length. */
static size_t handle_request(const char *name)
{
	struct arena *a = arena_new(0);
	struct user *u;
	size_t len;

	if (!a)
		return 0;
	u = arena_calloc(a, 1, sizeof(*u));
	if (!u) {
		arena_free(a);
		return 0;
	}
	u->name = arena_strdup(a, name);
	u->visits = 1;
	if (!first_user)
		first_user = u;		/* outlives the arena */
	len = u->name ? strlen(u->name) : 0;
	arena_free(a);
	return len;
}

/* --- the tests ---------------------------------------------------------- */

/* 0 if the test passed. */
static int test_request_lengths(void)
{
	return handle_request("alice") == 5 && handle_request("bob") == 3 ? 0 : 1;
}

static int test_reset_keeps_arena(void)
{
	struct arena *a = arena_new(0);
	char *s;
	int bad;

	if (!a)
		return 1;
	s = arena_strdup(a, "before");
	if (!s || arena_reset(a)) {
		arena_free(a);
		return 1;
	}
	s = arena_strdup(a, "after");
	bad = !s || strcmp(s, "after") || !arena_contains(a, s);
	arena_free(a);
	return bad;
}

static int test_first_user_remembered(void)
{
	struct arena_addr_info info;
	const struct user *u;

	first_user = NULL;
	handle_request("carol");
	u = first_user;
	if (arena_lookup(u, &info) == 0)
		printf("# kept %p in arena %u\n", (void *)u, info.arena_id);
	handle_request("dave");
	/* Reads memory of carol's arena, freed when her request ended. */
	return u->visits == 1 && strcmp(u->name, "carol") == 0 ? 0 : 1;
}

/* --- the runner --------------------------------------------------------- */

static const struct {
	const char *name;
	int (*fn)(void);
} tests[] = {
	{ "request_lengths", test_request_lengths },
	{ "reset_keeps_arena", test_reset_keeps_arena },
	{ "first_user_remembered", test_first_user_remembered },
};

/* Says what a fault at @addr was. */
static void diagnose(void *addr, int code)
{
	struct arena_addr_info info;

	if (arena_lookup(addr, &info) == 0 && info.state == ARENA_ADDR_FREED) {
		printf("# use-after-free: address %p (%s) is offset %#zx of arena %u,"
		       " freed %llu us ago by pid %d%s\n",
		       addr, code == SEGV_ACCERR ? "SEGV_ACCERR" : "SEGV_MAPERR",
		       info.offset, info.arena_id, info.freed_ns_ago / 1000,
		       info.freed_by_pid,
		       info.freed_by_pid == getpid() ? " (this process)" : "");
	} else {
		printf("# crash: SIGSEGV at %p, not in a freed arena\n", addr);
	}
}

int main(void)
{
	struct sigaction sa = { 0 };
	unsigned int n = sizeof(tests) / sizeof(tests[0]);
	volatile unsigned int failed = 0;	/* kept across siglongjmp */

	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, NULL);

	printf("# backend: %s\n1..%u\n", arena_backend(), n);
	for (unsigned int i = 0; i < n; i++) {
		int bad;

		fflush(stdout);
		if (sigsetjmp(test_jmp, 1) == 0) {
			bad = tests[i].fn();
			printf("%sok %u %s\n", bad ? "not " : "", i + 1, tests[i].name);
		} else {
			bad = 1;
			printf("not ok %u %s\n", i + 1, tests[i].name);
			diagnose(fault_addr, fault_code);
		}
		failed += bad;
	}
	printf("# %u passed, %u failed\n", n - failed, failed);
	return failed;
}
