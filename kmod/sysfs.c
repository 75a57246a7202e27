// SPDX-License-Identifier: GPL-2.0
/*
 * /sys/kernel/arena/: read-only counters.
 *
 * Each file holds one decimal number. The selftests read chunks_in_use to
 * check that close and exit return every chunk.
 */
#include <linux/kobject.h>
#include <linux/sysfs.h>

#include "arena_priv.h"

static struct kobject *arena_kobj;

#define ARENA_COUNTER_ATTR(name)					\
static ssize_t name##_show(struct kobject *kobj,			\
			   struct kobj_attribute *attr, char *buf)	\
{									\
	return sysfs_emit(buf, "%ld\n",					\
			  atomic_long_read(&arena_stats.name));		\
}									\
static struct kobj_attribute name##_attr = __ATTR_RO(name)

ARENA_COUNTER_ATTR(chunks_in_use);
ARENA_COUNTER_ATTR(arenas_live);
ARENA_COUNTER_ATTR(windows_open);
ARENA_COUNTER_ATTR(uaf_faults);
ARENA_COUNTER_ATTR(wild_faults);

static struct attribute *arena_attrs[] = {
	&chunks_in_use_attr.attr,
	&arenas_live_attr.attr,
	&windows_open_attr.attr,
	&uaf_faults_attr.attr,
	&wild_faults_attr.attr,
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
