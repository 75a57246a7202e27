// SPDX-License-Identifier: GPL-2.0
/*
 * /sys/kernel/arena/: counters, one decimal number a file, read-only; and
 * "drain": root writes 1 there to return every ready and dirty chunk to the
 * page allocator. Documentation/admin-guide/arena.rst lists what each file
 * counts.
 */
#include <linux/capability.h>
#include <linux/kobject.h>
#include <linux/nodemask.h>
#include <linux/slab.h>
#include <linux/string.h>
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
ARENA_COUNTER_ATTR(chunks_reused_nozero);
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
ARENA_COUNTER_ATTR(chunks_mapped);
ARENA_COUNTER_ATTR(pages_zeroed);
ARENA_COUNTER_ATTR(arenas_created);
ARENA_COUNTER_ATTR(arenas_freed);
ARENA_COUNTER_ATTR(chunks_shared);
ARENA_COUNTER_ATTR(small_runs_mapped);
ARENA_COUNTER_ATTR(pages_live);

/* The state counts again, in bytes. */
#define ARENA_BYTES_ATTR(ctr)						\
static ssize_t bytes_##ctr##_show(struct kobject *kobj,		\
				  struct kobj_attribute *attr, char *buf) \
{									\
	return sysfs_emit(buf, "%lu\n",					\
			  atomic_long_read(&arena_stats.chunks_##ctr) <<	\
			  ARENA_CHUNK_SHIFT);				\
}									\
static struct kobj_attribute bytes_##ctr##_attr = {			\
	.attr = { .name = "bytes_" #ctr, .mode = 0444 },		\
	.show = bytes_##ctr##_show,					\
}

ARENA_BYTES_ATTR(ready);
ARENA_BYTES_ATTR(in_use);
ARENA_BYTES_ATTR(quarantined);
ARENA_BYTES_ATTR(dirty);
ARENA_BYTES_ATTR(total);

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
	&chunks_reused_nozero_attr.attr,
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
	&chunks_mapped_attr.attr,
	&pages_zeroed_attr.attr,
	&chunks_shared_attr.attr,
	&small_runs_mapped_attr.attr,
	&pages_live_attr.attr,
	&arenas_created_attr.attr,
	&arenas_freed_attr.attr,
	&bytes_ready_attr.attr,
	&bytes_in_use_attr.attr,
	&bytes_quarantined_attr.attr,
	&bytes_dirty_attr.attr,
	&bytes_total_attr.attr,
	&chunk_size_attr.attr,
	&drain_attr.attr,
	NULL,
};

static const struct attribute_group arena_attr_group = {
	.attrs = arena_attrs,
};

/*
 * Per NUMA node: /sys/kernel/arena/nodeN/{ready,in_use,quarantined,dirty},
 * chunk counts of memory on that node. The node is parsed from the
 * directory name.
 */
static struct kobject **arena_node_kobjs;

static ssize_t arena_node_show(struct kobject *kobj,
			       struct kobj_attribute *attr, char *buf)
{
	struct arena_node_stats st;
	unsigned long v;
	int nid;

	if (kstrtoint(kobject_name(kobj) + 4, 10, &nid))
		return -EINVAL;
	arena_node_stats(nid, &st);
	if (!strcmp(attr->attr.name, "ready"))
		v = st.ready;
	else if (!strcmp(attr->attr.name, "in_use"))
		v = st.in_use;
	else if (!strcmp(attr->attr.name, "quarantined"))
		v = st.quarantined;
	else
		v = st.dirty;
	return sysfs_emit(buf, "%lu\n", v);
}

static struct kobj_attribute node_ready_attr =
	__ATTR(ready, 0444, arena_node_show, NULL);
static struct kobj_attribute node_in_use_attr =
	__ATTR(in_use, 0444, arena_node_show, NULL);
static struct kobj_attribute node_quarantined_attr =
	__ATTR(quarantined, 0444, arena_node_show, NULL);
static struct kobj_attribute node_dirty_attr =
	__ATTR(dirty, 0444, arena_node_show, NULL);

static struct attribute *arena_node_attrs[] = {
	&node_ready_attr.attr,
	&node_in_use_attr.attr,
	&node_quarantined_attr.attr,
	&node_dirty_attr.attr,
	NULL,
};

static const struct attribute_group arena_node_group = {
	.attrs = arena_node_attrs,
};

static void arena_sysfs_nodes_exit(void)
{
	int nid;

	if (!arena_node_kobjs)
		return;
	for_each_node(nid)
		kobject_put(arena_node_kobjs[nid]);
	kfree(arena_node_kobjs);
	arena_node_kobjs = NULL;
}

static int arena_sysfs_nodes_init(void)
{
	char name[16];
	int nid, err;

	arena_node_kobjs = kcalloc(nr_node_ids, sizeof(*arena_node_kobjs),
				   GFP_KERNEL);
	if (!arena_node_kobjs)
		return -ENOMEM;
	for_each_node_state(nid, N_MEMORY) {
		snprintf(name, sizeof(name), "node%d", nid);
		arena_node_kobjs[nid] = kobject_create_and_add(name, arena_kobj);
		if (!arena_node_kobjs[nid])
			goto fail;
		err = sysfs_create_group(arena_node_kobjs[nid],
					 &arena_node_group);
		if (err)
			goto fail;
	}
	return 0;
fail:
	arena_sysfs_nodes_exit();
	return -ENOMEM;
}

int arena_sysfs_init(void)
{
	int err;

	arena_kobj = kobject_create_and_add("arena", kernel_kobj);
	if (!arena_kobj)
		return -ENOMEM;
	err = sysfs_create_group(arena_kobj, &arena_attr_group);
	if (!err)
		err = arena_sysfs_nodes_init();
	if (err)
		kobject_put(arena_kobj);
	return err;
}

void arena_sysfs_exit(void)
{
	arena_sysfs_nodes_exit();
	kobject_put(arena_kobj);
}
