// SPDX-License-Identifier: GPL-2.0
/*
 * /sys/kernel/arena/: counters, one decimal number a file, read-only; and
 * "drain": root writes 1 there to return every ready and dirty chunk to the
 * page allocator. Documentation/arena.rst lists what each file counts.
 */
#include <linux/capability.h>
#include <linux/kobject.h>
#include <linux/sysfs.h>

#include "arena_priv.h"

static struct kobject *arena_kobj;

#define ARENA_COUNTER_ATTR(ctr)						\
static ssize_t ctr##_show(struct kobject *kobj,				\
			  struct kobj_attribute *attr, char *buf)	\
{									\
	return sysfs_emit(buf, "%ld\n",					\
			  atomic_long_read(&arena_stats.ctr));		\
}									\
static struct kobj_attribute ctr##_attr = {				\
	.attr = { .name = #ctr, .mode = 0444 },				\
	.show = ctr##_show,						\
}

ARENA_COUNTER_ATTR(chunks_ready);
ARENA_COUNTER_ATTR(chunks_in_use);
ARENA_COUNTER_ATTR(chunks_quarantined);
ARENA_COUNTER_ATTR(chunks_dirty);
ARENA_COUNTER_ATTR(chunks_total);
ARENA_COUNTER_ATTR(chunks_allocated);
ARENA_COUNTER_ATTR(chunks_fallback);
ARENA_COUNTER_ATTR(chunks_released);
ARENA_COUNTER_ATTR(chunks_reused);
ARENA_COUNTER_ATTR(chunks_zeroed);
ARENA_COUNTER_ATTR(chunks_zeroed_inline);
ARENA_COUNTER_ATTR(chunks_held);
ARENA_COUNTER_ATTR(shrinker_released);
ARENA_COUNTER_ATTR(limit_hits);
ARENA_COUNTER_ATTR(memlock_hits);
ARENA_COUNTER_ATTR(uaf_faults);
ARENA_COUNTER_ATTR(wild_faults);
ARENA_COUNTER_ATTR(arenas_live);
ARENA_COUNTER_ATTR(windows_open);

static ssize_t chunk_size_show(struct kobject *kobj,
			       struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%lu\n", ARENA_CHUNK_SIZE);
}

static struct kobj_attribute chunk_size_attr = __ATTR_RO(chunk_size);

static ssize_t drain_store(struct kobject *kobj, struct kobj_attribute *attr,
			   const char *buf, size_t count)
{
	bool v;
	int err;

	/* The file is 0200, but a passed-on fd must not bypass that. */
	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	err = kstrtobool(buf, &v);
	if (err)
		return err;
	if (!v)
		return -EINVAL;
	arena_pool_drain();
	return count;
}

static struct kobj_attribute drain_attr = __ATTR_WO(drain);

static struct attribute *arena_attrs[] = {
	&chunks_ready_attr.attr,
	&chunks_in_use_attr.attr,
	&chunks_quarantined_attr.attr,
	&chunks_dirty_attr.attr,
	&chunks_total_attr.attr,
	&chunks_allocated_attr.attr,
	&chunks_fallback_attr.attr,
	&chunks_released_attr.attr,
	&chunks_reused_attr.attr,
	&chunks_zeroed_attr.attr,
	&chunks_zeroed_inline_attr.attr,
	&chunks_held_attr.attr,
	&shrinker_released_attr.attr,
	&limit_hits_attr.attr,
	&memlock_hits_attr.attr,
	&uaf_faults_attr.attr,
	&wild_faults_attr.attr,
	&arenas_live_attr.attr,
	&windows_open_attr.attr,
	&chunk_size_attr.attr,
	&drain_attr.attr,
	NULL,
};

static const struct attribute_group arena_attr_group = {
	.attrs = arena_attrs,
};

int arena_sysfs_init(void)
{
	int err;

	arena_kobj = kobject_create_and_add("arena", kernel_kobj);
	if (!arena_kobj)
		return -ENOMEM;
	err = sysfs_create_group(arena_kobj, &arena_attr_group);
	if (err)
		kobject_put(arena_kobj);
	return err;
}

void arena_sysfs_exit(void)
{
	kobject_put(arena_kobj);
}
