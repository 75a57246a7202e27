// SPDX-License-Identifier: GPL-2.0
/*
 * arena.ko: kernel-backed arena memory for userspace.
 *
 * /dev/arena and its ioctls. Each open file is one window (window.c); the
 * ioctls create arenas, add chunks to them and free them. The ABI is in
 * uapi/linux/arena.h and Documentation/userspace-api/arena.rst.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/uaccess.h>

#include <uapi/linux/arena.h>

#include "arena_priv.h"

struct arena_stats arena_stats;

/*
 * Copy an extensible ioctl struct in (see "General ioctl format" in the uapi
 * header): @min is the size of the struct's first version. Returns the
 * caller's size in *usize.
 */
static int arena_copy_in(void *karg, size_t ksize, size_t min,
			 void __user *uarg, u32 *usize)
{
	if (get_user(*usize, (u32 __user *)uarg))
		return -EFAULT;
	if (*usize < min)
		return -EINVAL;
	/* As clone3() and openat2(): no struct will ever be this large. */
	if (*usize > PAGE_SIZE)
		return -E2BIG;
	return copy_struct_from_user(karg, ksize, uarg, *usize);
}

static int arena_copy_out(void __user *uarg, const void *karg, size_t ksize,
			  u32 usize)
{
	return copy_to_user(uarg, karg, min_t(size_t, ksize, usize)) ?
	       -EFAULT : 0;
}

static int arena_ioctl_get_info(struct arena_space *space, void __user *uarg)
{
	struct arena_info info;
	u32 usize;
	int err;

	/* The first version ended at out_max_chunks. */
	err = arena_copy_in(&info, sizeof(info),
			    offsetofend(struct arena_info, out_max_chunks),
			    uarg, &usize);
	if (err)
		return err;
	if (info.flags)
		return -EINVAL;
	info.out_abi_version = ARENA_ABI_VERSION;
	info.out_chunk_shift = ARENA_CHUNK_SHIFT;
	info.out_chunk_size = ARENA_CHUNK_SIZE;
	info.out_window_size = arena_window_size;
	info.out_max_chunks = space->nr_slots;
	info.out_features = ARENA_FEATURE_SMALL_RUNS |
			    ARENA_FEATURE_SMALL_WINDOW |
			    ARENA_FEATURE_FREE_NEXT | ARENA_FEATURE_NOZERO |
			    ARENA_FEATURE_NOZERO_SMALL;
	info.out_small_window_size = arena_window_size;
	return arena_copy_out(uarg, &info, sizeof(info), usize);
}

static int arena_ioctl_create(struct arena_space *space, void __user *uarg)
{
	struct arena_create cr;
	u32 usize;
	int err;

	err = arena_copy_in(&cr, sizeof(cr), sizeof(cr), uarg, &usize);
	if (err)
		return err;
	if (cr.flags || cr.__reserved)
		return -EINVAL;
	err = arena_create(space, &cr.out_arena_id);
	if (err)
		return err;
	err = arena_copy_out(uarg, &cr, sizeof(cr), usize);
	if (err)
		/* Nobody learnt the id: take the arena back. */
		arena_free(space, cr.out_arena_id);
	return err;
}

static int arena_ioctl_alloc_chunks(struct arena_space *space,
				    void __user *uarg)
{
	struct arena_alloc_chunks ac;
	u32 usize;
	int err;

	err = arena_copy_in(&ac, sizeof(ac), sizeof(ac), uarg, &usize);
	if (err)
		return err;
	if (ac.flags & ~ARENA_ALLOC_VALID_FLAGS)
		return -EINVAL;
	/* More than the window holds can never succeed. */
	if (!ac.nr_chunks || ac.nr_chunks > space->nr_slots)
		return -EINVAL;
	err = arena_alloc(space, &ac.arena_id,
			  (unsigned long)ac.nr_chunks << ARENA_CHUNK_ORDER,
			  ac.flags, &ac.out_offset);
	if (err)
		return err;
	/*
	 * If the copy fails the chunks stay with the arena and go when it is
	 * freed or the file is closed: nothing leaks.
	 */
	return arena_copy_out(uarg, &ac, sizeof(ac), usize);
}

/*
 * The bytes an allocation of @length gets in *@len: @length, or whole
 * chunks from a chunk up. -EINVAL if it is 0, not page aligned or more
 * than the chunk window holds (checked before rounding up, so the rounding
 * cannot overflow).
 */
static int arena_alloc_length(struct arena_space *space, u64 length, u64 *len)
{
	if (!length || !PAGE_ALIGNED(length) ||
	    length > (u64)space->nr_slots << ARENA_CHUNK_SHIFT)
		return -EINVAL;
	/* The window is whole chunks: rounding up stays inside it. */
	*len = length >= ARENA_CHUNK_SIZE ? round_up(length, ARENA_CHUNK_SIZE) :
					    length;
	return 0;
}

static int arena_ioctl_alloc(struct arena_space *space, void __user *uarg)
{
	struct arena_alloc al;
	u64 len;
	u32 usize;
	int err;

	err = arena_copy_in(&al, sizeof(al), sizeof(al), uarg, &usize);
	if (err)
		return err;
	if ((al.flags & ~ARENA_IOC_ALLOC_VALID_FLAGS) || al.__reserved)
		return -EINVAL;
	if (al.flags & ARENA_ALLOC_CREATE) {
		if ((al.flags & ARENA_ALLOC_RESET) || al.arena_id)
			return -EINVAL;
	}
	err = arena_alloc_length(space, al.length, &len);
	if (err)
		return err;
	err = arena_alloc(space, &al.arena_id, len >> PAGE_SHIFT, al.flags,
			  &al.out_offset);
	if (err)
		return err;
	al.out_length = len;
	err = arena_copy_out(uarg, &al, sizeof(al), usize);
	if (err && (al.flags & ARENA_ALLOC_CREATE))
		/* Nobody learnt the id: take the arena back. */
		arena_free(space, al.arena_id);
	return err;
}

/*
 * ARENA_IOC_FREE, and with ARENA_FREE_NEXT the caller's next arena in the
 * same call. The next arena is best effort: if it cannot be had, the free
 * has still happened and out_next_id says 0.
 */
static int arena_ioctl_free(struct arena_space *space, void __user *uarg)
{
	struct arena_free __user *ufr = uarg;
	struct arena_free fr;
	u32 usize, id = 0;
	u64 len, off = 0;
	int err;

	/* The first version ended at out_next_id (then __reserved). */
	err = arena_copy_in(&fr, sizeof(fr),
			    offsetofend(struct arena_free, out_next_id),
			    uarg, &usize);
	if (err)
		return err;
	if ((fr.flags & ~ARENA_FREE_VALID_FLAGS) || fr.out_next_id)
		return -EINVAL;
	if (!(fr.flags & ARENA_FREE_NEXT)) {
		if (fr.next_length || fr.flags)
			return -EINVAL;
		return arena_free(space, fr.arena_id);
	}
	if (usize < offsetofend(struct arena_free, out_next_offset))
		return -EINVAL;
	err = arena_alloc_length(space, fr.next_length, &len);
	if (err)
		return err;
	/*
	 * Fail before the free, not after it, if the answer cannot be told:
	 * both output fields must be writable (they may straddle a page).
	 */
	if (put_user(0ULL, &ufr->out_next_offset) ||
	    put_user(0U, &ufr->out_next_id))
		return -EFAULT;
	err = arena_free(space, fr.arena_id);
	if (err)
		return err;
	if (arena_alloc(space, &id, len >> PAGE_SHIFT, ARENA_ALLOC_CREATE |
			(fr.flags & ARENA_FREE_NEXT_NOZERO ?
			 ARENA_ALLOC_NOZERO : 0), &off))
		return 0;	/* no next arena: out_next_id says 0 */
	/*
	 * The free has happened: the call succeeds whatever follows. If the
	 * answer cannot be written now (another thread unmapped it, or it
	 * lay in the freed arena), nobody learns the id: take it back.
	 */
	if (put_user(off, &ufr->out_next_offset) ||
	    put_user(id, &ufr->out_next_id))
		arena_free(space, id);
	return 0;
}

static int arena_ioctl_lookup(struct arena_space *space, void __user *uarg)
{
	struct arena_lookup lk;
	u32 usize;
	int err;

	err = arena_copy_in(&lk, sizeof(lk), sizeof(lk), uarg, &usize);
	if (err)
		return err;
	if (lk.flags || lk.__reserved)
		return -EINVAL;
	lk.out_state = ARENA_SLOT_EMPTY;
	lk.out_arena_id = 0;
	lk.out_arena_offset = 0;
	lk.out_freed_ns_ago = 0;
	lk.out_freed_by_pid = 0;
	err = arena_lookup(space, &lk);
	if (err)
		return err;
	return arena_copy_out(uarg, &lk, sizeof(lk), usize);
}

static long arena_ioctl(struct file *file, unsigned int cmd,
			unsigned long arg)
{
	struct arena_space *space = file->private_data;
	void __user *uarg = (void __user *)arg;

	/* The window belongs to the process that opened the file. */
	if (current->mm != space->mm)
		return -EPERM;

	switch (cmd) {
	case ARENA_IOC_GET_INFO:
		return arena_ioctl_get_info(space, uarg);
	case ARENA_IOC_CREATE:
		return arena_ioctl_create(space, uarg);
	case ARENA_IOC_ALLOC_CHUNKS:
		return arena_ioctl_alloc_chunks(space, uarg);
	case ARENA_IOC_FREE:
		return arena_ioctl_free(space, uarg);
	case ARENA_IOC_LOOKUP:
		return arena_ioctl_lookup(space, uarg);
	case ARENA_IOC_ALLOC:
		return arena_ioctl_alloc(space, uarg);
	default:
		return -ENOTTY;
	}
}

static int arena_open(struct inode *inode, struct file *file)
{
	struct arena_space *space;

	if (!current->mm)
		return -EPERM;
	space = arena_space_create();
	if (IS_ERR(space))
		return PTR_ERR(space);
	file->private_data = space;
	/* Mappings of this file hang off the window's own address_space. */
	file->f_mapping = space->inode->i_mapping;
	return 0;
}

static int arena_release(struct inode *inode, struct file *file)
{
	arena_space_destroy(file->private_data);
	return 0;
}

static int arena_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct arena_space *space = file->private_data;

	if (current->mm != space->mm)
		return -EPERM;
	return arena_space_mmap(space, vma);
}

static const struct file_operations arena_fops = {
	.owner = THIS_MODULE,
	.open = arena_open,
	.release = arena_release,
	.mmap = arena_mmap,
	/* PMD-aligned window, so each chunk can be one PMD entry. */
	.get_unmapped_area = thp_get_unmapped_area,
	.unlocked_ioctl = arena_ioctl,
	/* The structs have one layout for 32- and 64-bit callers. */
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

static struct miscdevice arena_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "arena",
	.fops = &arena_fops,
	/* Root only by default; Documentation/admin-guide/arena.rst: udev group. */
	.mode = 0600,
};

static int __init arena_init(void)
{
	int err;

	err = arena_params_init();
	if (err)
		return err;
	err = arena_fs_init();
	if (err)
		return err;
	err = arena_pool_init();
	if (err)
		goto fs_exit;
	err = arena_sysfs_init();
	if (err)
		goto pool_exit;
	err = arena_netlink_init();
	if (err)
		goto sysfs_exit;
	err = misc_register(&arena_misc);
	if (err)
		goto netlink_exit;
	return 0;

netlink_exit:
	arena_netlink_exit();
sysfs_exit:
	arena_sysfs_exit();
pool_exit:
	arena_pool_exit();
fs_exit:
	arena_fs_exit();
	return err;
}

/* The module's refcount kept us from here while any file was open. */
static void __exit arena_exit(void)
{
	misc_deregister(&arena_misc);
	/* The sweeper sends netlink events: stop it before the family goes. */
	arena_quarantine_exit();
	arena_netlink_exit();
	arena_sysfs_exit();
	arena_pool_exit();
	arena_fs_exit();
}

module_init(arena_init);
module_exit(arena_exit);

MODULE_DESCRIPTION("Kernel-backed arena memory for userspace");
MODULE_AUTHOR("The arena authors");
MODULE_LICENSE("GPL");
