/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The one place for API differences between the kernels arena.ko builds
 * against: Debian bookworm's 6.1 and the 6.12 LTS from bookworm-backports.
 * Everything else in kmod/ is written against the 6.1 API and uses these
 * helpers where the two differ.
 */
#ifndef _ARENA_COMPAT_H
#define _ARENA_COMPAT_H

#include <linux/version.h>
#include <linux/mm.h>

/* 6.3 made vma->vm_flags read-only and added vm_flags_set()/clear(). */
static inline void arena_vm_flags_set(struct vm_area_struct *vma,
				      vm_flags_t flags)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
	vm_flags_set(vma, flags);
#else
	vma->vm_flags |= flags;
#endif
}

static inline void arena_vm_flags_clear(struct vm_area_struct *vma,
					vm_flags_t flags)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
	vm_flags_clear(vma, flags);
#else
	vma->vm_flags &= ~flags;
#endif
}

#endif /* _ARENA_COMPAT_H */
