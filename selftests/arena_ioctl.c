// SPDX-License-Identifier: GPL-2.0
/*
 * Description: every ioctl of /dev/arena with good and malformed arguments:
 * unknown commands and flags, nonzero reserved fields, short, long and
 * unreadable structs, unknown and double-freed arena ids, counts out of range.
 */
#include "arena_helpers.h"
#include "kselftest_harness.h"

FIXTURE(dev) {
	int fd;
	struct arena_info info;
};

FIXTURE_SETUP(dev)
{
	self->fd = open(ARENA_DEV, O_RDWR | O_CLOEXEC);
	if (self->fd < 0)
		SKIP(return, "cannot open %s: %s", ARENA_DEV, strerror(errno));
	ASSERT_EQ(0, arena_get_info(self->fd, &self->info));
}

FIXTURE_TEARDOWN(dev)
{
	if (self->fd >= 0)
		close(self->fd);
}

TEST_F(dev, get_info)
{
	struct arena_info *in = &self->info;

	EXPECT_EQ(ARENA_ABI_VERSION, in->out_abi_version);
	EXPECT_EQ(21, in->out_chunk_shift);
	EXPECT_EQ(1ULL << in->out_chunk_shift, in->out_chunk_size);
	EXPECT_EQ(0, in->out_window_size % in->out_chunk_size);
	EXPECT_EQ(in->out_window_size / in->out_chunk_size, in->out_max_chunks);
	EXPECT_EQ(sizeof(*in), in->size);
}

TEST_F(dev, unknown_command_is_enotty)
{
	char buf[64] = { 0 };

	EXPECT_EQ(-ENOTTY, arena_ioc(self->fd, _IO(ARENA_IOC_MAGIC, 0x7f), buf));
	EXPECT_EQ(-ENOTTY, arena_ioc(self->fd, _IO(ARENA_IOC_MAGIC, 0xff), buf));
	EXPECT_EQ(-ENOTTY, arena_ioc(self->fd, _IOWR('x', 0x80, int), buf));
}

TEST_F(dev, unknown_flags_are_einval)
{
	struct arena_info info = { .size = sizeof(info), .flags = 1 };
	struct arena_create cr = { .size = sizeof(cr), .flags = 1u << 31 };
	struct arena_alloc_chunks ac = { .size = sizeof(ac), .flags = 2,
					 .nr_chunks = 1 };
	struct arena_free fr = { .size = sizeof(fr), .flags = 4 };
	struct arena_lookup lk = { .size = sizeof(lk), .flags = 8 };
	long id = arena_create_id(self->fd);

	ASSERT_GT(id, 0);
	ac.arena_id = id;
	fr.arena_id = id;
	EXPECT_EQ(-EINVAL, arena_ioc(self->fd, ARENA_IOC_GET_INFO, &info));
	EXPECT_EQ(-EINVAL, arena_ioc(self->fd, ARENA_IOC_CREATE, &cr));
	EXPECT_EQ(-EINVAL, arena_ioc(self->fd, ARENA_IOC_ALLOC_CHUNKS, &ac));
	EXPECT_EQ(-EINVAL, arena_ioc(self->fd, ARENA_IOC_FREE, &fr));
	EXPECT_EQ(-EINVAL, arena_ioc(self->fd, ARENA_IOC_LOOKUP, &lk));
	/* Nothing happened: the arena is still there and empty. */
	EXPECT_EQ(0, arena_free_id(self->fd, id));
}

TEST_F(dev, reserved_fields_must_be_zero)
{
	struct arena_create cr = { .size = sizeof(cr), .__reserved = 1 };
	struct arena_free fr = { .size = sizeof(fr), .out_next_id = 1 };
	struct arena_lookup lk = { .size = sizeof(lk), .__reserved = 1 };
	long id = arena_create_id(self->fd);

	ASSERT_GT(id, 0);
	fr.arena_id = id;
	EXPECT_EQ(-EINVAL, arena_ioc(self->fd, ARENA_IOC_CREATE, &cr));
	EXPECT_EQ(-EINVAL, arena_ioc(self->fd, ARENA_IOC_FREE, &fr));
	EXPECT_EQ(-EINVAL, arena_ioc(self->fd, ARENA_IOC_LOOKUP, &lk));
	EXPECT_EQ(0, arena_free_id(self->fd, id));
}

TEST_F(dev, struct_size_rules)
{
	struct {
		struct arena_create cr;
		uint64_t tail[2];
	} big = { .cr = { .size = sizeof(big) } };
	struct arena_create cr = { .size = sizeof(cr) - 4 };
	long id;

	/* Shorter than the first version of the struct. */
	EXPECT_EQ(-EINVAL, arena_ioc(self->fd, ARENA_IOC_CREATE, &cr));
	cr.size = 0;
	EXPECT_EQ(-EINVAL, arena_ioc(self->fd, ARENA_IOC_CREATE, &cr));

	/* Longer with a zero tail: accepted (a newer caller, older kernel). */
	ASSERT_EQ(0, arena_ioc(self->fd, ARENA_IOC_CREATE, &big));
	id = big.cr.out_arena_id;
	EXPECT_GT(id, 0);
	EXPECT_EQ(0, big.tail[0]);
	EXPECT_EQ(0, arena_free_id(self->fd, id));

	/* Longer with something in the tail: E2BIG, nothing created. */
	memset(&big, 0, sizeof(big));
	big.cr.size = sizeof(big);
	big.tail[1] = 1;
	EXPECT_EQ(-E2BIG, arena_ioc(self->fd, ARENA_IOC_CREATE, &big));
	EXPECT_EQ(0, big.cr.out_arena_id);
}

/*
 * GET_INFO grew out_features: a caller of the first version (48 bytes) is
 * still served, and gets nothing written past its struct; a current one
 * learns the features.
 */
TEST_F(dev, get_info_first_version_and_features)
{
	struct {
		struct arena_info info;
		uint64_t guard;
	} v0;
	struct arena_info info;
	size_t v0size = offsetof(struct arena_info, out_features);

	memset(&v0, 0xff, sizeof(v0));
	memset(&v0.info, 0, v0size);
	v0.info.size = v0size;
	ASSERT_EQ(0, arena_ioc(self->fd, ARENA_IOC_GET_INFO, &v0.info));
	EXPECT_EQ(ARENA_ABI_VERSION, v0.info.out_abi_version);
	EXPECT_NE(0, v0.info.out_window_size);
	/* The bytes past the caller's size are untouched. */
	EXPECT_EQ(~0ULL, v0.info.out_features);
	EXPECT_EQ(~0ULL, v0.guard);
	v0.info.size = v0size - 8;
	EXPECT_EQ(-EINVAL, arena_ioc(self->fd, ARENA_IOC_GET_INFO, &v0.info));

	ASSERT_EQ(0, arena_get_info(self->fd, &info));
	EXPECT_EQ(ARENA_FEATURE_SMALL_RUNS | ARENA_FEATURE_SMALL_WINDOW |
		  ARENA_FEATURE_FREE_NEXT | ARENA_FEATURE_NOZERO |
		  ARENA_FEATURE_NOZERO_SMALL,
		  info.out_features);
	EXPECT_EQ(info.out_window_size, info.out_small_window_size);
}

TEST_F(dev, bad_pointers_are_efault)
{
	void *unmapped = mmap(NULL, PAGE_SZ, PROT_NONE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct arena_info *ro;

	ASSERT_NE(MAP_FAILED, unmapped);
	EXPECT_EQ(-EFAULT, arena_ioc(self->fd, ARENA_IOC_GET_INFO, NULL));
	EXPECT_EQ(-EFAULT, arena_ioc(self->fd, ARENA_IOC_CREATE, unmapped));
	EXPECT_EQ(-EFAULT, arena_ioc(self->fd, ARENA_IOC_ALLOC_CHUNKS,
				     (void *)-4096L));
	EXPECT_EQ(-EFAULT, arena_ioc(self->fd, ARENA_IOC_FREE, (void *)1));
	EXPECT_EQ(-EFAULT, arena_ioc(self->fd, ARENA_IOC_LOOKUP, unmapped));

	/* Readable but not writable: the output copy fails. */
	ro = mmap(NULL, PAGE_SZ, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ro);
	ro->size = sizeof(*ro);
	ASSERT_EQ(0, mprotect(ro, PAGE_SZ, PROT_READ));
	EXPECT_EQ(-EFAULT, arena_ioc(self->fd, ARENA_IOC_GET_INFO, ro));
	/* A create whose id cannot be returned leaves no arena behind. */
	EXPECT_EQ(-EFAULT, arena_ioc(self->fd, ARENA_IOC_CREATE, ro));
	EXPECT_EQ(0, arena_counter("arenas_live"));
	munmap(ro, PAGE_SZ);
	munmap(unmapped, PAGE_SZ);
}

TEST_F(dev, struct_straddling_a_fault_is_efault)
{
	char *two = mmap(NULL, 2 * PAGE_SZ, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct arena_create *cr;

	ASSERT_NE(MAP_FAILED, two);
	ASSERT_EQ(0, mprotect(two + PAGE_SZ, PAGE_SZ, PROT_NONE));
	cr = (struct arena_create *)(two + PAGE_SZ - 8);
	cr->size = sizeof(*cr);
	cr->flags = 0;
	EXPECT_EQ(-EFAULT, arena_ioc(self->fd, ARENA_IOC_CREATE, cr));
	munmap(two, 2 * PAGE_SZ);
}

TEST_F(dev, ids_are_unique_and_nonzero)
{
	long a = arena_create_id(self->fd);
	long b = arena_create_id(self->fd);
	long c;

	ASSERT_GT(a, 0);
	ASSERT_GT(b, 0);
	EXPECT_NE(a, b);
	EXPECT_EQ(0, arena_free_id(self->fd, a));
	/* Cyclic: a freed id is not handed out again soon. */
	c = arena_create_id(self->fd);
	ASSERT_GT(c, 0);
	EXPECT_NE(a, c);
	EXPECT_EQ(0, arena_free_id(self->fd, b));
	EXPECT_EQ(0, arena_free_id(self->fd, c));
}

TEST_F(dev, unknown_and_double_free_are_enoent)
{
	uint64_t off;
	long id;

	EXPECT_EQ(-ENOENT, arena_free_id(self->fd, 0));
	EXPECT_EQ(-ENOENT, arena_free_id(self->fd, 12345));
	EXPECT_EQ(-ENOENT, arena_free_id(self->fd, UINT32_MAX));
	EXPECT_EQ(-ENOENT, arena_chunks(self->fd, 777, 1, &off));

	id = arena_create_id(self->fd);
	ASSERT_GT(id, 0);
	ASSERT_EQ(0, arena_chunks(self->fd, id, 1, &off));
	EXPECT_EQ(0, arena_free_id(self->fd, id));
	EXPECT_EQ(-ENOENT, arena_free_id(self->fd, id));
	EXPECT_EQ(-ENOENT, arena_chunks(self->fd, id, 1, &off));
}

TEST_F(dev, chunk_counts_out_of_range)
{
	uint64_t off = 0;
	long id = arena_create_id(self->fd);

	ASSERT_GT(id, 0);
	EXPECT_EQ(-EINVAL, arena_chunks(self->fd, id, 0, &off));
	EXPECT_EQ(-EINVAL, arena_chunks(self->fd, id,
					self->info.out_max_chunks + 1, &off));
	EXPECT_EQ(-EINVAL, arena_chunks(self->fd, id, UINT32_MAX, &off));
	EXPECT_EQ(0, arena_free_id(self->fd, id));
}

TEST_F(dev, chunks_get_distinct_slots)
{
	uint64_t off[8];
	long id = arena_create_id(self->fd);
	int i, j;

	ASSERT_GT(id, 0);
	for (i = 0; i < 8; i++) {
		ASSERT_EQ(0, arena_chunks(self->fd, id, i % 3 + 1, &off[i]));
		EXPECT_EQ(0, off[i] % self->info.out_chunk_size);
		EXPECT_LT(off[i], self->info.out_window_size);
		for (j = 0; j < i; j++)
			EXPECT_NE(off[i], off[j]);
	}
	EXPECT_EQ(0, arena_free_id(self->fd, id));
}

TEST_F(dev, lookup_reports_slot_states)
{
	struct arena_lookup lk;
	uint64_t off, cs = self->info.out_chunk_size;
	long id = arena_create_id(self->fd);

	ASSERT_GT(id, 0);
	ASSERT_EQ(0, arena_chunks(self->fd, id, 2, &off));

	ASSERT_EQ(0, arena_lookup_off(self->fd, off + cs + 100, &lk));
	EXPECT_EQ(ARENA_SLOT_LIVE, lk.out_state);
	EXPECT_EQ(id, lk.out_arena_id);
	EXPECT_EQ(cs + 100, lk.out_arena_offset);

	ASSERT_EQ(0, arena_free_id(self->fd, id));
	ASSERT_EQ(0, arena_lookup_off(self->fd, off + 5, &lk));
	EXPECT_EQ(ARENA_SLOT_FREED, lk.out_state);
	EXPECT_EQ(id, lk.out_arena_id);
	EXPECT_EQ(5, lk.out_arena_offset);
	EXPECT_EQ(getpid(), (pid_t)lk.out_freed_by_pid);
	EXPECT_LT(lk.out_freed_ns_ago, 60ULL * 1000000000ULL);

	/* A slot never handed out. */
	ASSERT_EQ(0, arena_lookup_off(self->fd,
				      self->info.out_window_size - 1, &lk));
	EXPECT_EQ(ARENA_SLOT_EMPTY, lk.out_state);
	EXPECT_EQ(0, lk.out_arena_id);

	/* Outside both parts of the window. */
	EXPECT_EQ(-EINVAL, arena_lookup_off(self->fd,
					    2 * self->info.out_window_size,
					    &lk));
	EXPECT_EQ(-EINVAL, arena_lookup_off(self->fd, UINT64_MAX, &lk));
}

TEST_F(dev, chunks_without_a_mapping_are_freed_on_close)
{
	long base = arena_counter("chunks_in_use");
	uint64_t off;
	long id = arena_create_id(self->fd);

	ASSERT_GE(base, 0);
	ASSERT_GT(id, 0);
	ASSERT_EQ(0, arena_chunks(self->fd, id, 3, &off));
	EXPECT_EQ(base + 3, arena_counter("chunks_in_use"));
	close(self->fd);
	self->fd = -1;
	EXPECT_EQ(base, arena_counter("chunks_in_use"));
	EXPECT_EQ(0, arena_counter("arenas_live"));
}

TEST(device_is_root_only_by_default)
{
	struct stat st;

	ASSERT_EQ(0, stat(ARENA_DEV, &st));
	EXPECT_EQ(0600, st.st_mode & 0777);
	EXPECT_TRUE(S_ISCHR(st.st_mode));
}

TEST_HARNESS_MAIN
