/*
 * notifyfloor: the kernel's cost of one seccomp user notification on this
 * machine, with nothing else in the way. A child opens and closes
 * /proc/self/stat N times natively, then N times under a filter that
 * notifies openat; the parent is the smallest possible supervisor
 * (blocking RECV, one process_vm_readv of the path, SEND with CONTINUE,
 * SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP) — the same work the Go supervisor
 * does for a default-local path. Prints "native_ns" and "open_ns" (best of
 * five rounds each), as the Go probe does.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP 1
#endif

static double now_ns(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

static double best_loop(long n) {
	double best = 1e30;
	for (int round = 0; round < 5; round++) {
		double t0 = now_ns();
		for (long i = 0; i < n; i++) {
			int fd = openat(AT_FDCWD, "/proc/self/stat", O_RDONLY | O_CLOEXEC);
			if (fd < 0) {
				perror("openat");
				exit(1);
			}
			close(fd);
		}
		double per = (now_ns() - t0) / n;
		if (per < best)
			best = per;
	}
	return best;
}

int main(int argc, char **argv) {
	long n = argc > 1 ? atol(argv[1]) : 20000;
	int sv[2];
	if (n <= 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		fprintf(stderr, "usage: notifyfloor N\n");
		return 2;
	}
	pid_t child = fork();
	if (child < 0) {
		perror("fork");
		return 1;
	}
	if (child == 0) {
		double native = best_loop(n);
		struct sock_filter f[] = {
			BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
			BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat, 0, 1),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		};
		struct sock_fprog prog = {sizeof f / sizeof f[0], f};
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
			perror("prctl");
			_exit(1);
		}
		int lfd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
		if (lfd < 0) {
			perror("seccomp");
			_exit(1);
		}
		char go;
		if (write(sv[1], &lfd, sizeof lfd) != sizeof lfd || read(sv[1], &go, 1) != 1)
			_exit(1);
		double notified = best_loop(n);
		printf("native_ns %.0f\nopen_ns %.0f\n", native, notified);
		fflush(stdout);
		_exit(0);
	}
	int childfd;
	if (read(sv[0], &childfd, sizeof childfd) != sizeof childfd)
		return 1;
	int pidfd = syscall(SYS_pidfd_open, child, 0);
	int lfd = pidfd < 0 ? -1 : syscall(SYS_pidfd_getfd, pidfd, childfd, 0);
	if (lfd < 0) {
		perror("pidfd_getfd");
		kill(child, SIGKILL);
		return 1;
	}
	ioctl(lfd, SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP, 0);
	if (write(sv[0], "g", 1) != 1)
		return 1;
	for (;;) {
		struct seccomp_notif req;
		struct seccomp_notif_resp resp;
		char path[4096];
		memset(&req, 0, sizeof req);
		if (ioctl(lfd, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0) {
			struct pollfd pfd = {lfd, 0, 0};
			if (poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLHUP))
				break; /* the child exited */
			continue;  /* a signalled call, not the end */
		}
		struct iovec local = {path, sizeof path};
		struct iovec remote = {(void *)req.data.args[1], sizeof path};
		/* one page at most, as the Go supervisor reads */
		size_t room = 4096 - ((unsigned long)req.data.args[1] & 4095);
		remote.iov_len = local.iov_len = room;
		process_vm_readv(req.pid, &local, 1, &remote, 1, 0);
		memset(&resp, 0, sizeof resp);
		resp.id = req.id;
		resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
		ioctl(lfd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
	}
	int st;
	waitpid(child, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}
