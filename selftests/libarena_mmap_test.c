// SPDX-License-Identifier: GPL-2.0
/*
 * Description: every libarena test of libarena_test.c again, on the mmap
 * backend (ARENA_BACKEND=mmap), in the VM next to /dev/arena as on a
 * machine without it.
 */
#include <stdlib.h>

/* Before the harness runs any test (each in its own child process). */
__attribute__((constructor)) static void force_mmap_backend(void)
{
	setenv("ARENA_BACKEND", "mmap", 1);
}

#include "libarena_test.c"
