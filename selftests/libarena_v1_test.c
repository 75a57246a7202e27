// SPDX-License-Identifier: GPL-2.0
/*
 * Description: every libarena test of libarena_test.c again, against a
 * module that predates small runs: ioctl() is wrapped (-Wl,--wrap=ioctl)
 * so that ARENA_IOC_GET_INFO reports no features and ARENA_IOC_ALLOC is
 * unknown (ENOTTY), as on a first-version arena.ko. libarena must fall back
 * to ARENA_IOC_CREATE and ARENA_IOC_ALLOC_CHUNKS, whole chunks only.
 */
#include <errno.h>
#include <stdarg.h>
#include <sys/ioctl.h>

#include <linux/arena.h>

int __real_ioctl(int fd, unsigned long req, ...);

int __wrap_ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	void *arg;
	int ret;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (req == ARENA_IOC_ALLOC) {
		errno = ENOTTY;
		return -1;
	}
	ret = __real_ioctl(fd, req, arg);
	if (!ret && req == ARENA_IOC_GET_INFO)
		((struct arena_info *)arg)->out_features = 0;
	return ret;
}

/* libarena_test.c: runs are whole chunks on this kernel. */
#define LIBARENA_TEST_WHOLE_CHUNKS_ONLY 1

#include "libarena_test.c"
