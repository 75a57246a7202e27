// SPDX-License-Identifier: GPL-2.0
/*
 * syscount LABEL COMMAND [ARG...]: run COMMAND under ptrace and count its
 * system calls (the syscall-entry stops of its one thread; children and
 * other threads are not followed), by call. For binarytrees_apr_preload
 * (issue 16 item 5), which runs the dynamic APR binary-trees through it,
 * stock and preloaded, in an untimed pass: every stop makes a system call
 * far slower. Prints, on stderr, once COMMAND has exited:
 *
 *   @btsys impl=LABEL status=S total=N ioctl=N mmap=N munmap=N mprotect=N
 *          madvise=N other=N
 *
 * Exit status: COMMAND's, or 2 if it cannot be traced.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	static const struct { long nr; const char *name; } named[] = {
		{ SYS_ioctl, "ioctl" }, { SYS_mmap, "mmap" },
		{ SYS_munmap, "munmap" }, { SYS_mprotect, "mprotect" },
		{ SYS_madvise, "madvise" },
	};
	unsigned long count[sizeof(named) / sizeof(named[0])] = { 0 };
	unsigned long total = 0, other = 0;
	int st, rc = 2;
	size_t i;
	pid_t pid;

	if (argc < 3) {
		fprintf(stderr, "usage: syscount LABEL COMMAND [ARG...]\n");
		return 2;
	}
	pid = fork();
	if (pid < 0) {
		perror("syscount: fork");
		return 2;
	}
	if (!pid) {
		if (ptrace(PTRACE_TRACEME, 0, NULL, NULL)) {
			perror("syscount: PTRACE_TRACEME");
			_exit(2);
		}
		raise(SIGSTOP);
		execvp(argv[2], argv + 2);
		perror("syscount: exec");
		_exit(127);
	}
	if (waitpid(pid, &st, 0) != pid || !WIFSTOPPED(st) ||
	    ptrace(PTRACE_SETOPTIONS, pid, NULL,
		   (void *)(long)(PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL))) {
		perror("syscount: attach");
		kill(pid, SIGKILL);
		return 2;
	}
	ptrace(PTRACE_SYSCALL, pid, NULL, NULL);
	while (waitpid(pid, &st, 0) == pid) {
		int sig = 0;

		if (WIFEXITED(st)) {
			rc = WEXITSTATUS(st);
			break;
		}
		if (WIFSIGNALED(st)) {
			rc = 128 + WTERMSIG(st);
			break;
		}
		if (WSTOPSIG(st) == (SIGTRAP | 0x80)) {
			struct __ptrace_syscall_info si;

			if (ptrace(PTRACE_GET_SYSCALL_INFO, pid,
				   (void *)sizeof(si), &si) > 0 &&
			    si.op == PTRACE_SYSCALL_INFO_ENTRY) {
				total++;
				for (i = 0; i < sizeof(named) / sizeof(named[0]); i++)
					if ((long)si.entry.nr == named[i].nr)
						break;
				if (i < sizeof(named) / sizeof(named[0]))
					count[i]++;
				else
					other++;
			}
		} else if (WSTOPSIG(st) != SIGTRAP) {
			sig = WSTOPSIG(st);	/* deliver it */
		}
		ptrace(PTRACE_SYSCALL, pid, NULL, (void *)(long)sig);
	}
	fprintf(stderr, "@btsys impl=%s status=%d total=%lu", argv[1], rc, total);
	for (i = 0; i < sizeof(named) / sizeof(named[0]); i++)
		fprintf(stderr, " %s=%lu", named[i].name, count[i]);
	fprintf(stderr, " other=%lu\n", other);
	return rc;
}
