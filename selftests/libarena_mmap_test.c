// SPDX-License-Identifier: GPL-2.0
/*
 * Description: the libarena tests of libarena_test.c on the mmap backend
 * (ARENA_BACKEND=mmap): one body, run once per backend under a program
 * name of its own. In the VM, next to /dev/arena, libarena_test runs it on
 * the kernel backend and this program on the mmap one; on the host, where
 * only the mmap backend exists, the host lane runs this program alone.
 */
#include <stdlib.h>

/* Before the harness runs any test (each in its own child process). */
__attribute__((constructor)) static void force_mmap_backend(void)
{
	setenv("ARENA_BACKEND", "mmap", 1);
}

#include "libarena_test.c"
