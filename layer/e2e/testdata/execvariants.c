/*
 * execvariants runs PROGRAM ARGS... through one libc exec entry point:
 * execvariants VARIANT PROGRAM ARGS... For the spawn and vfork variants it
 * waits for the child and exits with its status. A failed exec prints
 * "errno NAME" and exits 99.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static int wait_child(pid_t pid)
{
	int st;
	if (waitpid(pid, &st, 0) < 0)
		return 98;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 97;
}

static int failed(int e)
{
	printf("errno %s\n", strerrorname_np(e));
	return 99;
}

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	const char *v = argv[1], *prog = argv[2];
	char **args = argv + 2;
	fflush(stdout);
	if (!strcmp(v, "execve"))
		execve(prog, args, environ);
	else if (!strcmp(v, "execv"))
		execv(prog, args);
	else if (!strcmp(v, "execvp"))
		execvp(prog, args);
	else if (!strcmp(v, "execvpe"))
		execvpe(prog, args, environ);
	else if (!strcmp(v, "execl"))
		execl(prog, prog, argc > 3 ? argv[3] : NULL, (char *)NULL);
	else if (!strcmp(v, "execlp"))
		execlp(prog, prog, argc > 3 ? argv[3] : NULL, (char *)NULL);
	else if (!strcmp(v, "execle"))
		execle(prog, prog, argc > 3 ? argv[3] : NULL, (char *)NULL, environ);
	else if (!strcmp(v, "posix_spawn") || !strcmp(v, "posix_spawnp")) {
		pid_t pid;
		int rc = (!strcmp(v, "posix_spawn") ? posix_spawn : posix_spawnp)(&pid, prog, NULL, NULL, args, environ);
		if (rc != 0)
			return failed(rc);
		return wait_child(pid);
	} else if (!strcmp(v, "vfork")) {
		pid_t pid = vfork();
		if (pid == 0) {
			execve(prog, args, environ);
			_exit(99);
		}
		return wait_child(pid);
	} else
		return 2;
	return failed(errno);
}
