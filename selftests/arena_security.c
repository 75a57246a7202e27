// SPDX-License-Identifier: GPL-2.0
/*
 * Description: the security boundary. The device is 0600 root, and the
 * documented group option (a udev rule: GROUP="arena", MODE="0660") opens
 * it to one group only. Users are charged against RLIMIT_MEMLOCK per user:
 * neither many open files, nor many processes, nor handing a file to
 * another process gets around it. Every ioctl struct is copied whole, its
 * padding and reserved fields checked, and nothing the kernel did not set
 * reaches userspace (no garbage in out_ fields, nothing written on an
 * error, nothing past the struct). Every tunable is root only, also through
 * a file descriptor root opened. The unprivileged parts run as other uids
 * via setuid() in forked children.
 */
#include "arena_helpers.h"	/* first: it defines _GNU_SOURCE */

#include <dirent.h>
#include <grp.h>
#include <stddef.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "kselftest_harness.h"

/* 6.1's harness runs a test even when its fixture's setup skipped. */
#define RETURN_IF_SKIPPED() do {					\
	if (_metadata->skip)						\
		return;							\
} while (0)

#define USER_A	4242	/* in the arena group */
#define USER_B	4343	/* not in it */
#define NOBODY	65534

/* ---- the layouts: no implicit padding anywhere ------------------------------------ */

#define FOLLOWS(s, a, b) \
	_Static_assert(offsetof(struct s, b) == offsetof(struct s, a) + \
		       sizeof(((struct s *)0)->a), #s "." #b " follows " #a)
#define ENDS(s, a) \
	_Static_assert(sizeof(struct s) == offsetof(struct s, a) + \
		       sizeof(((struct s *)0)->a), #s " ends with " #a)

FOLLOWS(arena_info, size, flags);
FOLLOWS(arena_info, flags, out_abi_version);
FOLLOWS(arena_info, out_abi_version, out_chunk_shift);
FOLLOWS(arena_info, out_chunk_shift, out_chunk_size);
FOLLOWS(arena_info, out_chunk_size, out_window_size);
FOLLOWS(arena_info, out_window_size, out_max_chunks);
FOLLOWS(arena_info, out_max_chunks, out_features);
FOLLOWS(arena_info, out_features, out_small_window_size);
ENDS(arena_info, out_small_window_size);
FOLLOWS(arena_create, size, flags);
FOLLOWS(arena_create, flags, out_arena_id);
FOLLOWS(arena_create, out_arena_id, __reserved);
ENDS(arena_create, __reserved);
FOLLOWS(arena_alloc_chunks, size, flags);
FOLLOWS(arena_alloc_chunks, flags, arena_id);
FOLLOWS(arena_alloc_chunks, arena_id, nr_chunks);
FOLLOWS(arena_alloc_chunks, nr_chunks, out_offset);
ENDS(arena_alloc_chunks, out_offset);
FOLLOWS(arena_alloc, size, flags);
FOLLOWS(arena_alloc, flags, arena_id);
FOLLOWS(arena_alloc, arena_id, __reserved);
FOLLOWS(arena_alloc, __reserved, length);
FOLLOWS(arena_alloc, length, out_offset);
FOLLOWS(arena_alloc, out_offset, out_length);
ENDS(arena_alloc, out_length);
FOLLOWS(arena_free, size, flags);
FOLLOWS(arena_free, flags, arena_id);
FOLLOWS(arena_free, arena_id, out_next_id);
FOLLOWS(arena_free, out_next_id, next_length);
FOLLOWS(arena_free, next_length, out_next_offset);
ENDS(arena_free, out_next_offset);
FOLLOWS(arena_lookup, size, flags);
FOLLOWS(arena_lookup, flags, offset);
FOLLOWS(arena_lookup, offset, out_state);
FOLLOWS(arena_lookup, out_state, out_arena_id);
FOLLOWS(arena_lookup, out_arena_id, out_arena_offset);
FOLLOWS(arena_lookup, out_arena_offset, out_freed_ns_ago);
FOLLOWS(arena_lookup, out_freed_ns_ago, out_freed_by_pid);
FOLLOWS(arena_lookup, out_freed_by_pid, __reserved);
ENDS(arena_lookup, __reserved);

/* ---- helpers --------------------------------------------------------------------- */

/* Become @uid (with gid @gid, no supplementary groups, no capabilities). */
static int become(uid_t uid, gid_t gid)
{
	if (setgroups(0, NULL) || setresgid(gid, gid, gid) ||
	    setresuid(uid, uid, uid))
		return -errno;
	return 0;
}

/* The group option of Documentation/arena.rst, as the udev rule sets it. */
struct devmode {
	struct stat st;
	bool changed;
};

static int group_option_on(struct devmode *d, gid_t gid)
{
	if (stat(ARENA_DEV, &d->st))
		return -errno;
	if (chown(ARENA_DEV, 0, gid) || chmod(ARENA_DEV, 0660))
		return -errno;
	d->changed = true;
	return 0;
}

static void group_option_off(struct devmode *d)
{
	if (!d->changed)
		return;
	chown(ARENA_DEV, d->st.st_uid, d->st.st_gid);
	chmod(ARENA_DEV, d->st.st_mode & 07777);
	d->changed = false;
}

/* In a child: run @fn as @uid/@gid; its exit status, or 100 + signal. */
static int as_user(uid_t uid, gid_t gid, int (*fn)(void *), void *arg)
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (become(uid, gid))
			_exit(99);
		_exit(fn(arg));
	}
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
}

static int open_errno(void *arg)
{
	int fd = open(ARENA_DEV, O_RDWR);

	(void)arg;
	if (fd >= 0) {
		close(fd);
		return 0;
	}
	return errno;
}

/* ---- the device node ------------------------------------------------------------- */

TEST(device_is_0600_root_and_the_group_option_opens_it_to_one_group)
{
	struct devmode d = { 0 };
	struct stat st;

	ASSERT_EQ(0, stat(ARENA_DEV, &st)) TH_LOG("no %s", ARENA_DEV);
	EXPECT_EQ(0600, st.st_mode & 07777);
	EXPECT_EQ(0, st.st_uid);
	EXPECT_EQ(0, st.st_gid);
	EXPECT_EQ(EACCES, as_user(NOBODY, NOBODY, open_errno, NULL));
	EXPECT_EQ(EACCES, as_user(USER_A, USER_A, open_errno, NULL));

	ASSERT_EQ(0, group_option_on(&d, USER_A));
	EXPECT_EQ(0, as_user(USER_A, USER_A, open_errno, NULL));
	EXPECT_EQ(EACCES, as_user(USER_B, USER_B, open_errno, NULL));
	EXPECT_EQ(EACCES, as_user(NOBODY, NOBODY, open_errno, NULL));
	group_option_off(&d);
	EXPECT_EQ(EACCES, as_user(USER_A, USER_A, open_errno, NULL));
}

/* ---- RLIMIT_MEMLOCK ----------------------------------------------------------------- */

#define LIMIT_CHUNKS	5

struct acct {
	size_t cs;
	int nfds;		/* files each process opens */
	int go;			/* read end: released when the parent says so */
	int report;		/* write end: chunks this process got */
};

/* Open @nfds files, allocate 1-chunk arenas round robin until ENOMEM. */
static int grab_chunks(void *arg)
{
	struct acct *a = arg;
	struct rlimit rl = { LIMIT_CHUNKS * a->cs + 4096,
			     LIMIT_CHUNKS * a->cs + 4096 };
	int fds[16], got = 0, err = 0;
	char c;

	/* Raising the hard limit is not allowed to a user. */
	struct rlimit more = { rl.rlim_cur * 4, rl.rlim_max * 4 };

	if (!setrlimit(RLIMIT_MEMLOCK, &more))
		return 20;
	for (int i = 0; i < a->nfds; i++) {
		fds[i] = open(ARENA_DEV, O_RDWR);
		if (fds[i] < 0)
			return 21;
	}
	for (int i = 0; !err; i++) {
		long id = arena_create_id(fds[i % a->nfds]);
		uint64_t off;

		if (id <= 0)
			return 22;
		err = arena_chunks(fds[i % a->nfds], id, 1, &off);
		if (!err)
			got++;
	}
	if (err != -ENOMEM)
		return 23;
	c = got;
	if (write(a->report, &c, 1) != 1)
		return 24;
	/* Hold everything until the parent has counted. */
	if (read(a->go, &c, 1) < 0)
		return 25;
	return 0;
}

/*
 * @procs processes of one user, @nfds files each, all at once: together
 * they get exactly the limit.
 */
static void charge_many(struct __test_metadata *_metadata, size_t cs,
			int procs, int nfds)
{
	struct rlimit rl = { LIMIT_CHUNKS * cs + 4096, LIMIT_CHUNKS * cs + 4096 };
	int go[2], rep[2], total = 0, status;
	long hits = arena_counter("memlock_hits");
	pid_t pid[16];
	struct acct a = { .cs = cs, .nfds = nfds };

	ASSERT_EQ(0, pipe(go));
	ASSERT_EQ(0, pipe(rep));
	a.go = go[0];
	a.report = rep[1];
	for (int p = 0; p < procs; p++) {
		pid[p] = fork();
		ASSERT_GE(pid[p], 0);
		if (pid[p] == 0) {
			close(go[1]);
			close(rep[0]);
			if (setrlimit(RLIMIT_MEMLOCK, &rl) || become(USER_A, USER_A))
				_exit(99);
			_exit(grab_chunks(&a));
		}
	}
	close(go[0]);
	close(rep[1]);
	for (int p = 0; p < procs; p++) {
		char c;

		if (read(rep[0], &c, 1) != 1)
			break;
		total += c;
	}
	/* Everyone holds what they got: now let go, all at once. */
	close(go[1]);
	for (int p = 0; p < procs; p++) {
		ASSERT_EQ(pid[p], waitpid(pid[p], &status, 0));
		EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status))
			TH_LOG("process %d: status %#x", p, status);
	}
	close(rep[0]);
	TH_LOG("%d processes x %d files of uid %d: %d chunks in all (limit %d), %ld refusals",
	       procs, nfds, USER_A, total, LIMIT_CHUNKS,
	       arena_counter("memlock_hits") - hits);
	EXPECT_EQ(LIMIT_CHUNKS, total);
	EXPECT_EQ(procs, arena_counter("memlock_hits") - hits);
}

FIXTURE(acct) {
	struct devmode d;
	struct arena_info info;
};

FIXTURE_SETUP(acct)
{
	int fd = open(ARENA_DEV, O_RDWR | O_CLOEXEC);

	memset(&self->d, 0, sizeof(self->d));
	if (fd < 0)
		SKIP(return, "cannot open %s: %s", ARENA_DEV, strerror(errno));
	ASSERT_EQ(0, arena_get_info(fd, &self->info));
	close(fd);
	ASSERT_EQ(0, group_option_on(&self->d, USER_A));
}

FIXTURE_TEARDOWN(acct)
{
	group_option_off(&self->d);
}

TEST_F(acct, many_files_of_one_process_share_the_limit)
{
	RETURN_IF_SKIPPED();
	charge_many(_metadata, self->info.out_chunk_size, 1, 12);
}

TEST_F(acct, many_processes_of_one_user_share_the_limit)
{
	RETURN_IF_SKIPPED();
	charge_many(_metadata, self->info.out_chunk_size, 8, 2);
}

/* Hands its file (and the charge) to the parent over a socket, then exits. */
static int hand_off(void *arg)
{
	int sock = *(int *)arg, fd = open(ARENA_DEV, O_RDWR);
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 }, c = 0;
	struct iovec iov = { &c, 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	uint64_t off;
	long id;

	if (fd < 0)
		return 30;
	id = arena_create_id(fd);
	if (id <= 0 || arena_chunks(fd, id, LIMIT_CHUNKS, &off))
		return 31;
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return sendmsg(sock, &mh, 0) == 1 ? 0 : 32;
}

static int try_one_chunk(void *arg)
{
	int fd = open(ARENA_DEV, O_RDWR);
	long id;
	uint64_t off;

	(void)arg;
	if (fd < 0)
		return 40;
	id = arena_create_id(fd);
	if (id <= 0)
		return 41;
	return -arena_chunks(fd, id, 1, &off);
}

TEST_F(acct, handing_the_file_to_another_process_keeps_the_charge)
{
	RETURN_IF_SKIPPED();
	struct rlimit rl = { LIMIT_CHUNKS * self->info.out_chunk_size + 4096,
			     LIMIT_CHUNKS * self->info.out_chunk_size + 4096 };
	struct rlimit old;
	char cbuf[CMSG_SPACE(sizeof(int))], c;
	struct iovec iov = { &c, 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct arena_info in;
	int sv[2], fd;

	ASSERT_EQ(0, getrlimit(RLIMIT_MEMLOCK, &old));
	/* The children inherit the limit (and drop root in as_user()). */
	ASSERT_EQ(0, setrlimit(RLIMIT_MEMLOCK, &rl));
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
	ASSERT_EQ(0, as_user(USER_A, USER_A, hand_off, &sv[1]));
	ASSERT_EQ(1, recvmsg(sv[0], &mh, 0));
	memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&mh)), sizeof(int));
	/* Its opener is gone; the file is ours now, but not to use... */
	EXPECT_EQ(-EPERM, arena_get_info(fd, &in));
	/* ...and its chunks are still the user's: nothing left for them. */
	EXPECT_EQ(ENOMEM, as_user(USER_A, USER_A, try_one_chunk, NULL));
	close(fd);
	/* The last reference is gone: so is the charge. */
	EXPECT_EQ(0, as_user(USER_A, USER_A, try_one_chunk, NULL));
	close(sv[0]);
	close(sv[1]);
	ASSERT_EQ(0, setrlimit(RLIMIT_MEMLOCK, &old));
}

/* ---- ioctl structs -------------------------------------------------------------------- */

FIXTURE(abi) {
	int fd;
	struct arena_info info;
	char *base;
	unsigned char *buf;	/* a page for the structs */
};

FIXTURE_SETUP(abi)
{
	self->buf = NULL;
	ARENA_SETUP_WINDOW(self);
	self->buf = mmap(NULL, PAGE_SZ, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->buf);
}

FIXTURE_TEARDOWN(abi)
{
	if (self->buf)
		munmap(self->buf, PAGE_SZ);
	arena_close_window(self->fd, &self->info, self->base);
}

struct cmd {
	unsigned long nr;
	const char *name;
	size_t size;
	size_t min;		/* its first version */
	long reserved;		/* offset of __reserved, -1: none */
	uint32_t valid_flags;
	bool writes;		/* copies the struct back on success */
};

static const struct cmd cmds[] = {
#define SZ(s) sizeof(struct s), sizeof(struct s)
	{ ARENA_IOC_GET_INFO, "GET_INFO", sizeof(struct arena_info),
	  offsetof(struct arena_info, out_features), -1, 0, true },
	{ ARENA_IOC_CREATE, "CREATE", SZ(arena_create),
	  offsetof(struct arena_create, __reserved), 0, true },
	{ ARENA_IOC_ALLOC_CHUNKS, "ALLOC_CHUNKS", SZ(arena_alloc_chunks),
	  -1, ARENA_ALLOC_VALID_FLAGS, true },
	{ ARENA_IOC_FREE, "FREE", sizeof(struct arena_free),
	  offsetof(struct arena_free, next_length),
	  offsetof(struct arena_free, out_next_id), 0, false },
	{ ARENA_IOC_LOOKUP, "LOOKUP", SZ(arena_lookup),
	  offsetof(struct arena_lookup, __reserved), 0, true },
	{ ARENA_IOC_ALLOC, "ALLOC", SZ(arena_alloc),
	  offsetof(struct arena_alloc, __reserved), ARENA_IOC_ALLOC_VALID_FLAGS,
	  true },
#undef SZ
};

/* A valid struct for @c at @p (zeroed first); may create an arena. */
static void valid(int fd, const struct cmd *c, unsigned char *p, long id)
{
	memset(p, 0, c->size);
	*(uint32_t *)p = c->size;
	if (c->nr == ARENA_IOC_ALLOC_CHUNKS) {
		((struct arena_alloc_chunks *)p)->arena_id = id;
		((struct arena_alloc_chunks *)p)->nr_chunks = 1;
	} else if (c->nr == ARENA_IOC_FREE) {
		((struct arena_free *)p)->arena_id = id;
	} else if (c->nr == ARENA_IOC_ALLOC) {
		((struct arena_alloc *)p)->arena_id = id;
		((struct arena_alloc *)p)->length = PAGE_SZ;
	}
	(void)fd;
}

/*
 * Refused arguments leave every byte as it was: one nonzero byte past the
 * struct (E2BIG), every byte of __reserved (EINVAL), every unknown flag bit
 * (EINVAL), every size short of the struct's first version (EINVAL).
 */
TEST_F(abi, refused_arguments_are_not_written)
{
	RETURN_IF_SKIPPED();
	unsigned char before[256];
	long id = arena_create_id(self->fd);
	int n = 0;

	ASSERT_GT(id, 0);
	for (size_t k = 0; k < sizeof(cmds) / sizeof(cmds[0]); k++) {
		const struct cmd *c = &cmds[k];
		unsigned char *p = self->buf;

#define REFUSED(want) do {						\
	memcpy(before, p, sizeof(before));				\
	EXPECT_EQ(-(want), arena_ioc(self->fd, c->nr, p))		\
		TH_LOG("%s", c->name);					\
	EXPECT_EQ(0, memcmp(before, p, sizeof(before)))			\
		TH_LOG("%s wrote to a refused argument", c->name);	\
	n++;								\
} while (0)
		for (size_t extra = 1; extra <= 64; extra++) {
			memset(p, 0xa5, sizeof(before));
			valid(self->fd, c, p, id);
			memset(p + c->size, 0, extra);
			p[c->size + extra - 1] = 1;
			*(uint32_t *)p = c->size + extra;
			REFUSED(E2BIG);
		}
		for (long b = 0; c->reserved >= 0 && b < 4; b++) {
			memset(p, 0xa5, sizeof(before));
			valid(self->fd, c, p, id);
			p[c->reserved + b] = 0x80;
			REFUSED(EINVAL);
		}
		for (int bit = 0; bit < 32; bit++) {
			if (c->valid_flags & (1U << bit))
				continue;
			memset(p, 0xa5, sizeof(before));
			valid(self->fd, c, p, id);
			((uint32_t *)p)[1] = 1U << bit;
			REFUSED(EINVAL);
		}
		for (uint32_t sz = 0; sz < c->min; sz++) {
			memset(p, 0xa5, sizeof(before));
			valid(self->fd, c, p, id);
			*(uint32_t *)p = sz;
			REFUSED(EINVAL);
		}
#undef REFUSED
	}
	TH_LOG("%d refused calls, none wrote a byte", n);
	ASSERT_EQ(0, arena_free_id(self->fd, id));
}

/*
 * A longer struct with a zero tail is accepted; the kernel writes its own
 * struct back and not a byte past it. Out fields start as 0xa5 garbage:
 * every one must come back defined.
 */
TEST_F(abi, out_fields_are_all_written_and_nothing_past_them)
{
	RETURN_IF_SKIPPED();
	const size_t tail = 32;
	unsigned char *p = self->buf;
	struct arena_info *in = (void *)p;
	struct arena_create *cr = (void *)p;
	struct arena_alloc_chunks *ac = (void *)p;
	struct arena_lookup *lk = (void *)p;
	uint32_t id;
	uint64_t off;

#define PREP(type, garbage) do {					\
	memset(p, 0xee, 256);						\
	memset(p, garbage ? 0xa5 : 0, sizeof(type));			\
	memset(p + sizeof(type), 0, tail);				\
	*(uint32_t *)p = sizeof(type) + tail;				\
	((uint32_t *)p)[1] = 0;						\
} while (0)
#define TAIL_INTACT(type) ({						\
	bool __ok = true;						\
	for (size_t i = sizeof(type); i < sizeof(type) + tail; i++)	\
		__ok = __ok && !p[i];					\
	for (size_t i = sizeof(type) + tail; i < 256; i++)		\
		__ok = __ok && p[i] == 0xee;				\
	__ok;								\
})

	PREP(struct arena_info, true);
	ASSERT_EQ(0, arena_ioc(self->fd, ARENA_IOC_GET_INFO, p));
	EXPECT_EQ(ARENA_ABI_VERSION, in->out_abi_version);
	EXPECT_EQ(self->info.out_chunk_size, 1ULL << in->out_chunk_shift);
	EXPECT_EQ(self->info.out_chunk_size, in->out_chunk_size);
	EXPECT_EQ(self->info.out_window_size, in->out_window_size);
	EXPECT_EQ(in->out_window_size / in->out_chunk_size, in->out_max_chunks);
	EXPECT_TRUE(TAIL_INTACT(struct arena_info));

	/* A caller of the first version: not a byte past its 40. */
	PREP(struct arena_info, true);
	*(uint32_t *)p = offsetof(struct arena_info, out_features);
	memset(p + offsetof(struct arena_info, out_features), 0xee,
	       256 - offsetof(struct arena_info, out_features));
	ASSERT_EQ(0, arena_ioc(self->fd, ARENA_IOC_GET_INFO, p));
	EXPECT_EQ(self->info.out_window_size, in->out_window_size);
	for (size_t i = offsetof(struct arena_info, out_features); i < 256; i++) {
		ASSERT_EQ(0xee, p[i]) TH_LOG("GET_INFO v1 wrote byte %zu", i);
	}
	PREP(struct arena_info, true);
	ASSERT_EQ(0, arena_ioc(self->fd, ARENA_IOC_GET_INFO, p));
	EXPECT_EQ(ARENA_FEATURE_SMALL_RUNS | ARENA_FEATURE_SMALL_WINDOW |
		  ARENA_FEATURE_FREE_NEXT | ARENA_FEATURE_NOZERO |
		  ARENA_FEATURE_NOZERO_SMALL,
		  in->out_features);
	EXPECT_EQ(in->out_window_size, in->out_small_window_size);

	PREP(struct arena_create, false);
	cr->out_arena_id = 0xa5a5a5a5;
	ASSERT_EQ(0, arena_ioc(self->fd, ARENA_IOC_CREATE, p));
	EXPECT_NE(0xa5a5a5a5, cr->out_arena_id);
	EXPECT_EQ(0, cr->__reserved);
	EXPECT_TRUE(TAIL_INTACT(struct arena_create));
	id = cr->out_arena_id;

	PREP(struct arena_alloc_chunks, false);
	ac->arena_id = id;
	ac->nr_chunks = 1;
	ac->out_offset = 0xa5a5a5a5a5a5a5a5ULL;
	ASSERT_EQ(0, arena_ioc(self->fd, ARENA_IOC_ALLOC_CHUNKS, p));
	EXPECT_EQ(0, ac->out_offset % self->info.out_chunk_size);
	EXPECT_LT(ac->out_offset, self->info.out_window_size);
	EXPECT_EQ(id, ac->arena_id);
	EXPECT_EQ(1, ac->nr_chunks);
	EXPECT_TRUE(TAIL_INTACT(struct arena_alloc_chunks));
	off = ac->out_offset;

	{
		struct arena_alloc *al = (void *)p;

		/* A small run into a new arena: out fields over garbage. */
		PREP(struct arena_alloc, false);
		al->flags = ARENA_ALLOC_CREATE;
		al->length = 3 * PAGE_SZ;
		al->out_offset = al->out_length = 0xa5a5a5a5a5a5a5a5ULL;
		ASSERT_EQ(0, arena_ioc(self->fd, ARENA_IOC_ALLOC, p));
		EXPECT_NE(0, al->arena_id);
		EXPECT_EQ(0, al->__reserved);
		EXPECT_EQ(3 * PAGE_SZ, al->length);
		EXPECT_EQ(3 * PAGE_SZ, al->out_length);
		EXPECT_EQ(0, al->out_offset % PAGE_SZ);
		EXPECT_LT(al->out_offset, 2 * self->info.out_window_size);
		EXPECT_TRUE(TAIL_INTACT(struct arena_alloc));
		EXPECT_EQ(0, arena_free_id(self->fd, al->arena_id));
	}

	/* Lookups of an empty, a live and a freed slot over garbage. */
	for (int state = 0; state < 3; state++) {
		/* Whole chunks start at the bottom: the middle is empty. */
		uint64_t at = state == 0 ? self->info.out_window_size / 2 + 5 :
			      off + 77;

		if (state == 2)
			ASSERT_EQ(0, arena_free_id(self->fd, id));
		PREP(struct arena_lookup, true);
		lk->offset = at;
		lk->__reserved = 0;
		ASSERT_EQ(0, arena_ioc(self->fd, ARENA_IOC_LOOKUP, p));
		EXPECT_EQ(at, lk->offset);
		EXPECT_EQ(0, lk->__reserved);
		EXPECT_TRUE(TAIL_INTACT(struct arena_lookup));
		switch (state) {
		case 0:
			EXPECT_EQ(ARENA_SLOT_EMPTY, lk->out_state);
			EXPECT_EQ(0, lk->out_arena_id);
			EXPECT_EQ(0, lk->out_arena_offset);
			EXPECT_EQ(0, lk->out_freed_ns_ago);
			EXPECT_EQ(0, lk->out_freed_by_pid);
			break;
		case 1:
			EXPECT_EQ(ARENA_SLOT_LIVE, lk->out_state);
			EXPECT_EQ(id, lk->out_arena_id);
			EXPECT_EQ(77, lk->out_arena_offset);
			EXPECT_EQ(0, lk->out_freed_ns_ago);
			EXPECT_EQ(0, lk->out_freed_by_pid);
			break;
		default:
			EXPECT_EQ(ARENA_SLOT_FREED, lk->out_state);
			EXPECT_EQ(id, lk->out_arena_id);
			EXPECT_EQ(77, lk->out_arena_offset);
			EXPECT_GT(lk->out_freed_ns_ago, 0);
			EXPECT_LT(lk->out_freed_ns_ago, 60ULL * 1000000000ULL);
			EXPECT_EQ(getpid(), (pid_t)lk->out_freed_by_pid);
			break;
		}
	}
#undef PREP
#undef TAIL_INTACT
}

/* ---- tunables ------------------------------------------------------------------------ */

/* Every file under @dir (one level of subdirectories): mode, path. */
static int list_files(const char *dir, char paths[][160], mode_t *modes, int max)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)) && n < max) {
		char path[160];
		struct stat st;

		if (e->d_name[0] == '.' ||
		    strlen(dir) + strlen(e->d_name) + 2 > sizeof(path))
			continue;
		strcpy(path, dir);
		strcat(path, "/");
		strcat(path, e->d_name);
		if (stat(path, &st))
			continue;
		if (S_ISDIR(st.st_mode)) {
			n += list_files(path, paths + n, modes + n, max - n);
			continue;
		}
		snprintf(paths[n], 160, "%s", path);
		modes[n++] = st.st_mode & 07777;
	}
	closedir(d);
	return n;
}

static char files[96][160];
static mode_t modes[96];
static int nfiles;

/* As a user: no file can be opened for writing. */
static int write_any(void *arg)
{
	(void)arg;
	for (int i = 0; i < nfiles; i++) {
		int fd = open(files[i], O_WRONLY);

		if (fd >= 0)
			return 10 + i;
		if (errno != EACCES)
			return 50;
	}
	return 0;
}

/* As a user, with drain opened by root: the write is refused anyway. */
static int drain_through_fd(void *arg)
{
	int fd = *(int *)arg;

	if (write(fd, "1", 1) != -1)
		return 1;
	return errno == EPERM ? 0 : 2;
}

TEST(tunables_are_root_only)
{
	static const char *const writable[] = {
		"/sys/module/arena/parameters/max_mb",
		"/sys/module/arena/parameters/pool_low",
		"/sys/module/arena/parameters/pool_high",
		"/sys/module/arena/parameters/held_warn_ms",
		"/sys/module/arena/parameters/va_quarantine_mb",
		"/sys/module/arena/parameters/max_empty_arenas",
		"/sys/module/arena/parameters/max_freed_runs",
		"/sys/module/arena/parameters/max_small_slots",
		"/sys/module/arena/parameters/nozero_keep_mb",
		"/sys/kernel/arena/drain",
	};
	int nw = 0, fd, n;

	if (access("/sys/kernel/arena", F_OK))
		SKIP(return, "module not loaded");
	nfiles = list_files("/sys/module/arena/parameters", files, modes, 96);
	n = list_files("/sys/kernel/arena", files + nfiles, modes + nfiles,
		       96 - nfiles);
	nfiles += n;
	ASSERT_GT(nfiles, 20);
	for (int i = 0; i < nfiles; i++) {
		bool want_w = false;

		for (size_t k = 0; k < sizeof(writable) / sizeof(writable[0]); k++)
			want_w = want_w || !strcmp(files[i], writable[k]);
		/* Nobody but root may write anything. */
		EXPECT_EQ(0, modes[i] & 0022) TH_LOG("%s is %04o", files[i], modes[i]);
		EXPECT_EQ(want_w, !!(modes[i] & 0200))
			TH_LOG("%s is %04o", files[i], modes[i]);
		nw += !!(modes[i] & 0200);
	}
	TH_LOG("%d files, %d of them writable, by root only", nfiles, nw);
	EXPECT_EQ(sizeof(writable) / sizeof(writable[0]), (size_t)nw);
	EXPECT_EQ(0, as_user(NOBODY, NOBODY, write_any, NULL));
	EXPECT_EQ(0, as_user(USER_A, USER_A, write_any, NULL));

	/* drain checks CAP_SYS_ADMIN itself, whoever opened the file. */
	fd = open("/sys/kernel/arena/drain", O_WRONLY | O_CLOEXEC);
	ASSERT_GE(fd, 0);
	EXPECT_EQ(0, as_user(NOBODY, NOBODY, drain_through_fd, &fd));
	close(fd);
}

TEST_HARNESS_MAIN
