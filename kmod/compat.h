/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The one place for API differences between the kernels arena.ko builds
 * against: Debian bookworm's 6.1, the 6.12 LTS from bookworm-backports and
 * the newest 7.x from trixie-backports. Everything else in kmod/ is written
 * against the 6.1 API and uses these helpers where they differ. kmod/Kbuild
 * defines the ARENA_HAVE_* macros from what the headers being built
 * against declare, never from their version number.
 */
#ifndef _ARENA_COMPAT_H
#define _ARENA_COMPAT_H

#include <linux/mm.h>
#include <linux/shrinker.h>
#include <linux/slab.h>
#include <net/genetlink.h>

/* 6.3 made vma->vm_flags read-only and added vm_flags_set()/clear(). */
static inline void arena_vm_flags_set(struct vm_area_struct *vma,
				      vm_flags_t flags)
{
#ifdef ARENA_HAVE_VM_FLAGS_SET
	vm_flags_set(vma, flags);
#else
	vma->vm_flags |= flags;
#endif
}

static inline void arena_vm_flags_clear(struct vm_area_struct *vma,
					vm_flags_t flags)
{
#ifdef ARENA_HAVE_VM_FLAGS_SET
	vm_flags_clear(vma, flags);
#else
	vma->vm_flags &= ~flags;
#endif
}

/*
 * 6.7 replaced register_shrinker() on a caller-owned struct with
 * shrinker_alloc() / shrinker_register() / shrinker_free().
 */
typedef unsigned long (*arena_shrink_fn)(struct shrinker *,
					 struct shrink_control *);

static inline struct shrinker *arena_shrinker_create(arena_shrink_fn count,
						     arena_shrink_fn scan,
						     const char *name)
{
	struct shrinker *s;
#ifdef ARENA_HAVE_SHRINKER_ALLOC
	s = shrinker_alloc(0, "%s", name);
	if (!s)
		return ERR_PTR(-ENOMEM);
	s->count_objects = count;
	s->scan_objects = scan;
	shrinker_register(s);
#else
	int err;

	s = kzalloc(sizeof(*s), GFP_KERNEL);
	if (!s)
		return ERR_PTR(-ENOMEM);
	s->count_objects = count;
	s->scan_objects = scan;
	s->seeks = DEFAULT_SEEKS;
	err = register_shrinker(s, "%s", name);
	if (err) {
		kfree(s);
		return ERR_PTR(err);
	}
#endif
	return s;
}

static inline void arena_shrinker_destroy(struct shrinker *s)
{
#ifdef ARENA_HAVE_SHRINKER_ALLOC
	shrinker_free(s);
#else
	unregister_shrinker(s);
	kfree(s);
#endif
}

/* 6.2 moved a dump's parsed attributes into genl_dumpit_info.info. */
static inline struct nlattr **arena_genl_dump_attrs(struct netlink_callback *cb)
{
#ifdef ARENA_HAVE_GENL_DUMPIT_INFO_INFO
	return genl_dumpit_info(cb)->info.attrs;
#else
	return genl_dumpit_info(cb)->attrs;
#endif
}

#endif /* _ARENA_COMPAT_H */
