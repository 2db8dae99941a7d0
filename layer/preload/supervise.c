/*
 * Handing programs that escape LD_PRELOAD to the seccomp supervisor.
 *
 * Static and Go programs make their system calls without going through
 * this library. When an editor's launch environment names the supervisor's
 * attach server (MIRRORD_SUPERVISOR_ADDR, in the intproxy) and its exec
 * wrapper (MIRRORD_SUPERVISOR_EXEC, the mirrord binary), the layer
 *
 *   - attaches a dynamically linked Go program it was loaded into, from its
 *     constructor (ml_sv_start: the ATTACH protocol below), and is inert
 *     from then on: the supervisor handles every call;
 *   - rewrites an exec of a static or Go program (execve, execv, execvp,
 *     execvpe, execl, execle, execlp, posix_spawn, posix_spawnp) into an
 *     exec of the wrapper with _MIRRORD_SUPERVISOR_ATTACH=<target>; the
 *     wrapper attaches itself and execs the target with the same argv.
 *
 * MIRRORD_LAYER_SUPERVISED=1 marks a process tree that already runs under a
 * supervisor filter: there the layer does nothing at all.
 *
 * ATTACH (unix stream, little-endian, every read bounded by a timeout):
 *   -> "MSA1"
 *   <- u8 0, u16 N (1..512), N * {u16 code, u8 jt, u8 jf, u32 k}
 *      or u8 != 0, u16 len (<= 1024), message: refused
 *   no_new_privs, seccomp(SET_MODE_FILTER, NEW_LISTENER[|WAIT_KILLABLE_RECV])
 *   -> u32 listener fd (0xFFFFFFFF: the install failed)
 *   <- u8 0: the supervisor took a copy (pidfd_getfd); anything else: nobody
 *      answers the filter, so a drain helper answers "continue" until no
 *      task uses it.
 *
 * The exec paths may run in a vfork child: no malloc, stack buffers only,
 * raw system calls; errno is the real function's.
 */
#include "layer.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#ifndef SECCOMP_FILTER_FLAG_NEW_LISTENER
#define SECCOMP_FILTER_FLAG_NEW_LISTENER (1UL << 3)
#endif
#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif
#ifndef SECCOMP_USER_NOTIF_FLAG_CONTINUE
#define SECCOMP_USER_NOTIF_FLAG_CONTINUE (1UL << 0)
#endif

extern char **environ;

#define ENV_SUPERVISED "MIRRORD_LAYER_SUPERVISED"
#define ENV_INTPROXY "MIRRORD_LAYER_INTPROXY_ADDR"
#define ENV_SV_ADDR "MIRRORD_SUPERVISOR_ADDR"
#define ENV_SV_EXEC "MIRRORD_SUPERVISOR_EXEC"
#define ENV_MODE "MIRRORD_LAYER_MODE"
#define ENV_ATTACH "_MIRRORD_SUPERVISOR_ATTACH"
#define ENV_DRAIN "_MIRRORD_SUPERVISOR_DRAIN"

#define SV_PATH 4096     /* longest target path rewritten */
#define SV_MAX_ENV 4096  /* more environment entries: the exec runs unchanged */
#define SV_MAX_INSNS 512 /* longest filter accepted */
#define SV_MAX_MSG 1024  /* longest refusal message */

/* Non-zero when this process runs under a supervisor: every hook passes through. */
int ml_sv_inert;

enum { SV_AUTO, SV_PRELOAD, SV_SUPERVISOR };

static int sv_mode(const char *v)
{
	if (v && strcmp(v, "preload") == 0)
		return SV_PRELOAD;
	if (v && strcmp(v, "supervisor") == 0)
		return SV_SUPERVISOR;
	return SV_AUTO; /* unset, empty, "auto" (the config engine refuses anything else) */
}

/* ---- real exec functions --------------------------------------------- */

typedef int (*execve_fn)(const char *, char *const[], char *const[]);
typedef int (*execv_fn)(const char *, char *const[]);
typedef int (*spawn_fn)(pid_t *, const char *, const posix_spawn_file_actions_t *, const posix_spawnattr_t *,
			char *const[], char *const[]);

static execve_fn r_execve, r_execvpe;
static execv_fn r_execv, r_execvp;
static spawn_fn r_spawn, r_spawnp;

/* ml_sv_resolve looks the real functions up early, so an exec in a vfork
 * child never calls dlsym. */
void ml_sv_resolve(void)
{
	if (!r_execve)
		r_execve = (execve_fn)ml_real("execve");
	if (!r_execvpe)
		r_execvpe = (execve_fn)ml_real("execvpe");
	if (!r_execv)
		r_execv = (execv_fn)ml_real("execv");
	if (!r_execvp)
		r_execvp = (execv_fn)ml_real("execvp");
	if (!r_spawn)
		r_spawn = (spawn_fn)ml_real("posix_spawn");
	if (!r_spawnp)
		r_spawnp = (spawn_fn)ml_real("posix_spawnp");
}

/* ---- small helpers ----------------------------------------------------- */

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* sv_wait waits until fd is ready for ev (or hung up) before deadline. */
static int sv_wait(int fd, short ev, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - now_ms();
		if (left <= 0)
			return -1;
		struct timespec ts = {left / 1000, (left % 1000) * 1000000};
		struct pollfd p = {fd, ev, 0};
		long r = syscall(SYS_ppoll, &p, 1, &ts, NULL, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		return 0; /* ready, or POLLHUP/POLLERR: the read or write says which */
	}
}

static int sv_read(int fd, void *buf, size_t n, int64_t deadline)
{
	uint8_t *p = buf;
	while (n > 0) {
		if (sv_wait(fd, POLLIN, deadline) < 0)
			return -1;
		long r = syscall(SYS_read, fd, p, n);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static int sv_write(int fd, const void *buf, size_t n, int64_t deadline)
{
	const uint8_t *p = buf;
	while (n > 0) {
		if (sv_wait(fd, POLLOUT, deadline) < 0)
			return -1;
		long w = syscall(SYS_sendto, fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT, NULL, 0);
		if (w < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int sv_write_u32(int fd, uint32_t v, int64_t deadline)
{
	uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
	return sv_write(fd, b, sizeof b, deadline);
}

static int sv_parse_addr(const char *a, struct sockaddr_un *su, socklen_t *len)
{
	if (strncmp(a, "unix:", 5) == 0)
		a += 5;
	size_t n = strlen(a);
	if (n == 0 || n >= sizeof su->sun_path)
		return -1;
	memset(su, 0, sizeof *su);
	su->sun_family = AF_UNIX;
	memcpy(su->sun_path, a, n);
	if (a[0] == '@')
		su->sun_path[0] = 0; /* abstract namespace */
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (a[0] == '@' ? 0 : 1));
	return 0;
}

/* warn2 warns "a" followed by "b" (b cut at the warning's length). */
static void warn2(const char *a, const char *b)
{
	char msg[400];
	size_t n = 0;
	for (const char *s = a; *s && n < sizeof msg - 1; s++)
		msg[n++] = *s;
	for (const char *s = b; *s && n < sizeof msg - 1; s++)
		msg[n++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
	msg[n] = 0;
	ml_warn(msg);
}

/* ---- the drain: answering a filter nobody else answers ----------------- */

/* drain_loop lets every notified call run natively until no task uses the
 * filter (what the Go helper does, drain.go). */
static void drain_loop(int listener)
{
	for (;;) {
		struct pollfd p = {listener, POLLIN, 0};
		long r = syscall(SYS_ppoll, &p, 1, NULL, NULL, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		if (!(p.revents & POLLIN)) {
			if (p.revents & (POLLHUP | POLLNVAL))
				return; /* the last task using the filter is gone */
			continue;
		}
		struct seccomp_notif req;
		memset(&req, 0, sizeof req);
		if (syscall(SYS_ioctl, listener, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0) {
			if (errno == EINTR || errno == ENOENT)
				continue;
			return;
		}
		struct seccomp_notif_resp resp;
		memset(&resp, 0, sizeof resp);
		resp.id = req.id;
		resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
		syscall(SYS_ioctl, listener, SECCOMP_IOCTL_NOTIF_SEND, &resp);
	}
}

static void close_all_but(int keep)
{
	if (keep > 0)
		syscall(SYS_close_range, 0, keep - 1, 0);
	if (syscall(SYS_close_range, keep + 1, ~0U, 0) < 0)
		for (int fd = 0; fd < 1024; fd++)
			if (fd != keep)
				syscall(SYS_close, fd);
}

/*
 * standby runs in a process forked before the filter is installed, so
 * it is not under the filter (a child forked after it would be: its
 * execve and the Go helper's own start would be notified calls nobody
 * answers, and the filter would always have a user left, itself). It waits
 * on ctl: EOF means the supervisor took the process; a listener fd means
 * nobody did, and it drains that listener — through the mirrord binary
 * (_MIRRORD_SUPERVISOR_DRAIN=3, drain.go) when one is named, else itself.
 */
static __attribute__((noreturn)) void standby(int ctl, const char *drain_exec)
{
	syscall(SYS_setsid);
	close_all_but(ctl);
	uint8_t byte;
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct iovec iov = {&byte, 1};
	struct msghdr mh;
	memset(&mh, 0, sizeof mh);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cm.buf;
	mh.msg_controllen = sizeof cm.buf;
	long n;
	do
		n = syscall(SYS_recvmsg, ctl, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	int listener = -1;
	struct cmsghdr *c = n > 0 ? CMSG_FIRSTHDR(&mh) : NULL;
	if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len >= CMSG_LEN(sizeof(int)))
		memcpy(&listener, CMSG_DATA(c), sizeof listener);
	if (listener < 0)
		syscall(SYS_exit_group, 0);
	int high = (int)syscall(SYS_fcntl, listener, F_DUPFD_CLOEXEC, 10);
	if (high >= 0) {
		syscall(SYS_close, listener);
		listener = high;
	}
	syscall(SYS_close, ctl);
	/* standard files on /dev/null: hold none of the program's pipes */
	int null = (int)syscall(SYS_openat, AT_FDCWD, "/dev/null", O_RDWR);
	if (null >= 0) {
		for (int fd = 0; fd < 3; fd++)
			if (fd != null)
				syscall(SYS_dup2, null, fd);
		if (null > 2)
			syscall(SYS_close, null);
	}
	if (drain_exec && drain_exec[0] == '/' && listener != 3 && syscall(SYS_dup2, listener, 3) == 3) {
		char *argv[] = {"mirrord", NULL};
		char *envp[] = {ENV_DRAIN "=3", NULL};
		syscall(SYS_execve, drain_exec, argv, envp);
		syscall(SYS_close, 3);
	}
	drain_loop(listener);
	syscall(SYS_exit_group, 0);
	__builtin_unreachable();
}

static pid_t raw_fork(void) { return (pid_t)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0); }

/* standby_start double-forks the standby (nobody waits for it, so no
 * zombie is left) and returns the control end, -1 when it could not. */
static int standby_start(const char *drain_exec)
{
	int sp[2];
	if (syscall(SYS_socketpair, AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
		return -1;
	pid_t mid = raw_fork();
	if (mid == 0) {
		if (raw_fork() == 0)
			standby(sp[1], drain_exec);
		syscall(SYS_exit_group, 0);
	}
	syscall(SYS_close, sp[1]);
	if (mid < 0) {
		syscall(SYS_close, sp[0]);
		return -1;
	}
	while (syscall(SYS_wait4, mid, NULL, __WALL, NULL) < 0 && errno == EINTR)
		;
	return sp[0];
}

/* standby_hand passes the listener to the standby. */
static int standby_hand(int ctl, int listener)
{
	uint8_t byte = 'L';
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} cm;
	memset(&cm, 0, sizeof cm);
	struct iovec iov = {&byte, 1};
	struct msghdr mh;
	memset(&mh, 0, sizeof mh);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cm.buf;
	mh.msg_controllen = sizeof cm.buf;
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &listener, sizeof listener);
	long n;
	do
		n = syscall(SYS_sendmsg, ctl, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n == 1 ? 0 : -1;
}

/* ---- ATTACH ------------------------------------------------------------- */

enum { SV_FAILED = -1, SV_DRAINED = 0, SV_ATTACHED = 1 };

/* install sets no_new_privs and installs prog; it returns the listener. */
static int install(struct sock_filter *prog, uint16_t n)
{
	if (syscall(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -1;
	struct sock_fprog fp = {n, prog};
	long fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
			  SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, &fp);
	if (fd < 0 && errno == EINVAL) /* before Linux 5.19 */
		fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &fp);
	return (int)fd;
}

/* attach runs the ATTACH protocol for this process (single-threaded: in
 * the constructor). */
static int attach(const char *addr, const char *drain_exec, int timeout_ms)
{
	struct sockaddr_un su;
	socklen_t sl;
	if (sv_parse_addr(addr, &su, &sl) < 0) {
		ml_warn(ENV_SV_ADDR " is not a unix socket path; using the LD_PRELOAD layer");
		return SV_FAILED;
	}
	int64_t deadline = now_ms() + timeout_ms;
	int s = (int)syscall(SYS_socket, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return SV_FAILED;
	struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
	syscall(SYS_setsockopt, s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv); /* bounds connect */
	long rc;
	do
		rc = syscall(SYS_connect, s, &su, sl);
	while (rc < 0 && errno == EINTR);
	uint8_t status;
	if (rc < 0 || sv_write(s, "MSA1", 4, deadline) < 0 || sv_read(s, &status, 1, deadline) < 0) {
		ml_warn("cannot reach the supervisor (" ENV_SV_ADDR "); using the LD_PRELOAD layer");
		syscall(SYS_close, s);
		return SV_FAILED;
	}
	uint8_t len[2];
	if (sv_read(s, len, 2, deadline) < 0)
		goto bad;
	uint16_t n = (uint16_t)(len[0] | (len[1] << 8));
	if (status != 0) {
		char msg[SV_MAX_MSG + 1];
		if (n > SV_MAX_MSG || sv_read(s, msg, n, deadline) < 0)
			goto bad;
		msg[n] = 0;
		syscall(SYS_close, s);
		warn2("the supervisor refused this process; using the LD_PRELOAD layer: ", msg);
		return SV_FAILED;
	}
	if (n == 0 || n > SV_MAX_INSNS)
		goto bad;
	static uint8_t raw[SV_MAX_INSNS * 8];
	static struct sock_filter prog[SV_MAX_INSNS];
	if (sv_read(s, raw, (size_t)n * 8, deadline) < 0)
		goto bad;
	for (unsigned i = 0; i < n; i++) {
		const uint8_t *b = raw + i * 8;
		prog[i].code = (uint16_t)(b[0] | (b[1] << 8));
		prog[i].jt = b[2];
		prog[i].jf = b[3];
		prog[i].k = (uint32_t)b[4] | (uint32_t)b[5] << 8 | (uint32_t)b[6] << 16 | (uint32_t)b[7] << 24;
	}

	int ctl = standby_start(drain_exec);
	int listener = install(prog, n);
	if (listener < 0) {
		int e = errno;
		sv_write_u32(s, 0xFFFFFFFFu, deadline);
		syscall(SYS_close, s);
		if (ctl >= 0)
			syscall(SYS_close, ctl); /* the standby exits */
		errno = e;
		ml_warn(e == EINVAL || e == ENOSYS
			    ? "this kernel cannot install the supervisor's seccomp filter; using the LD_PRELOAD layer"
			    : "cannot install the supervisor's seccomp filter; using the LD_PRELOAD layer");
		return SV_FAILED;
	}
	/* From here on the filter is in place: read, write, close, poll and
	 * ioctl are not notified, connect and execve are. */
	uint8_t taken = 1;
	if (sv_write_u32(s, (uint32_t)listener, deadline) < 0 || sv_read(s, &taken, 1, deadline) < 0)
		taken = 1;
	syscall(SYS_close, s);
	if (taken == 0) {
		syscall(SYS_close, listener);
		if (ctl >= 0)
			syscall(SYS_close, ctl);
		return SV_ATTACHED;
	}
	if (ctl < 0 || standby_hand(ctl, listener) < 0)
		ml_warn("the supervisor did not take this process and no helper could answer its filter; "
			"its file and network calls fail with ENOSYS");
	else
		ml_warn("the supervisor did not take this process; it runs without mirrord");
	syscall(SYS_close, listener);
	if (ctl >= 0)
		syscall(SYS_close, ctl);
	return SV_DRAINED;
bad:
	ml_warn("the supervisor answered badly; using the LD_PRELOAD layer");
	syscall(SYS_close, s);
	return SV_FAILED;
}

/* mark_supervised makes MIRRORD_LAYER_SUPERVISED=1 reach this process's
 * children. setenv alone is not enough: Go's runtime (also with cgo) takes
 * its environment from the process's initial environment array, which is
 * the envp given to constructors, so the marker goes into that array, in
 * the slot of MIRRORD_SUPERVISOR_ADDR (a supervised tree never attaches
 * again, so nothing there needs the address). */
static char sv_marker[] = ENV_SUPERVISED "=1";

static void mark_supervised(char **envp)
{
	for (size_t i = 0; envp && i < 65536 && envp[i]; i++) {
		if (strncmp(envp[i], ENV_SV_ADDR "=", sizeof ENV_SV_ADDR) == 0) {
			envp[i] = sv_marker;
			break;
		}
	}
	const char *v = getenv(ENV_SUPERVISED);
	if (!v || strcmp(v, "1") != 0)
		setenv(ENV_SUPERVISED, "1", 1);
}

/* same_file reports whether a and b name the same file. */
static int same_file(const char *a, const char *b)
{
	struct stat sa, sb;
	return a && b && syscall(SYS_newfstatat, AT_FDCWD, a, &sa, 0) == 0 &&
	       syscall(SYS_newfstatat, AT_FDCWD, b, &sb, 0) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

int ml_sv_start(char **envp)
{
	const char *v = getenv(ENV_SUPERVISED);
	if (v && *v) {
		ml_sv_inert = 1;
		return 1;
	}
	v = getenv(ENV_ATTACH);
	if (v && *v) {
		/* the exec wrapper (the mirrord binary) on its way to attach
		 * itself: neither attach it here nor say hello for it */
		ml_sv_inert = 1;
		return 1;
	}
	const char *ip = getenv(ENV_INTPROXY), *addr = getenv(ENV_SV_ADDR);
	if (!ip || !*ip || !addr || !*addr)
		return 0;
	int mode = sv_mode(getenv(ENV_MODE));
	if (mode == SV_PRELOAD || (mode == SV_AUTO && !ml_needs_supervisor("/proc/self/exe")))
		return 0;
	const char *drain_exec = getenv(ENV_SV_EXEC);
	if (same_file("/proc/self/exe", drain_exec))
		return 0; /* mirrord itself (a Go program) is never supervised */
	int timeout = 5000;
	const char *t = getenv("MIRRORD_LAYER_TIMEOUT_MS");
	if (t && atoi(t) > 0)
		timeout = atoi(t);
	if (attach(addr, drain_exec, timeout) != SV_ATTACHED)
		return 0;
	mark_supervised(envp);
	ml_sv_inert = 1;
	return 1;
}

/* ---- exec hooks ------------------------------------------------------- */

static const char attach_key[] = ENV_ATTACH "=";

static int has_prefix(const char *s, const char *p, size_t n) { return strncmp(s, p, n) == 0; }
#define PFX(s, lit) has_prefix((s), lit, sizeof lit - 1)

/* plan decides from the environment the new program gets whether its exec
 * may go through the wrapper: it returns the wrapper's path and the number
 * of entries of envp, or NULL. */
static const char *plan(char *const envp[], char *const argv[], size_t *n)
{
	if (ml_sv_inert || !envp || !argv || !argv[0])
		return NULL;
	const char *ip = NULL, *addr = NULL, *wrapper = NULL, *mode = NULL, *sup = NULL;
	size_t i;
	for (i = 0; envp[i]; i++) {
		if (i >= SV_MAX_ENV)
			return NULL;
		const char *e = envp[i];
		if (e[0] != 'M')
			continue;
		if (PFX(e, ENV_INTPROXY "="))
			ip = e + sizeof ENV_INTPROXY;
		else if (PFX(e, ENV_SV_ADDR "="))
			addr = e + sizeof ENV_SV_ADDR;
		else if (PFX(e, ENV_SV_EXEC "="))
			wrapper = e + sizeof ENV_SV_EXEC;
		else if (PFX(e, ENV_MODE "="))
			mode = e + sizeof ENV_MODE;
		else if (PFX(e, ENV_SUPERVISED "="))
			sup = e + sizeof ENV_SUPERVISED;
	}
	if (!ip || !*ip || !addr || !*addr || !wrapper || wrapper[0] != '/' || (sup && *sup) ||
	    sv_mode(mode) == SV_PRELOAD)
		return NULL;
	*n = i;
	return wrapper;
}

/* absolute writes path, made absolute against the working directory, to out. */
static int absolute(const char *path, char *out, size_t cap)
{
	while (path[0] == '.' && path[1] == '/') {
		path += 2; /* "./prog": the working directory's prog */
		while (path[0] == '/')
			path++;
	}
	size_t n = strnlen(path, cap);
	if (n == 0 || n >= cap)
		return -1;
	if (path[0] == '/') {
		memcpy(out, path, n + 1);
		return 0;
	}
	if (syscall(SYS_getcwd, out, cap) <= 0 || out[0] != '/')
		return -1;
	size_t c = strlen(out);
	if (c > 1)
		out[c++] = '/';
	if (c + n >= cap)
		return -1;
	memcpy(out + c, path, n + 1);
	return 0;
}

static int executable_file(const char *p)
{
	struct stat st;
	return syscall(SYS_newfstatat, AT_FDCWD, p, &st, 0) == 0 && S_ISREG(st.st_mode) &&
	       syscall(SYS_faccessat, AT_FDCWD, p, X_OK) == 0;
}

/* search finds file as execvp does: the first executable regular file in
 * the caller's PATH (glibc's default when unset), made absolute. */
static int search(const char *file, char *out, size_t cap)
{
	if (!file[0])
		return -1;
	if (strchr(file, '/'))
		return absolute(file, out, cap);
	const char *path = getenv("PATH");
	if (!path)
		path = "/bin:/usr/bin";
	size_t fl = strlen(file);
	char cand[SV_PATH];
	for (const char *p = path;; p++) {
		const char *end = strchrnul(p, ':');
		size_t dl = (size_t)(end - p);
		/* an empty element is the working directory */
		if (dl + 1 + fl < sizeof cand) {
			size_t k = 0;
			if (dl == 0)
				cand[k++] = '.';
			memcpy(cand + k, p, dl);
			k += dl;
			cand[k++] = '/';
			memcpy(cand + k, file, fl + 1);
			if (executable_file(cand))
				return absolute(cand, out, cap);
		}
		if (!*end)
			return -1;
		p = end;
	}
}

/* wrap reports whether target must run under the supervisor (never the
 * wrapper, the mirrord binary, itself). */
static int wrap(const char *target, const char *wrapper)
{
	return executable_file(target) && !same_file(target, wrapper) && ml_needs_supervisor(target);
}

typedef int (*run_fn)(void *ctx, const char *wrapper, char *const envp[]);

/* via_wrapper runs run with envp plus _MIRRORD_SUPERVISOR_ATTACH=target
 * (replacing one already there), built on the stack. */
static int via_wrapper(const char *target, const char *wrapper, char *const envp[], size_t n, run_fn run, void *ctx)
{
	char attach_kv[sizeof attach_key + SV_PATH];
	char *nenv[n + 2];
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (!PFX(envp[i], ENV_ATTACH "="))
			nenv[k++] = envp[i];
	memcpy(attach_kv, attach_key, sizeof attach_key - 1);
	memcpy(attach_kv + sizeof attach_key - 1, target, strlen(target) + 1);
	nenv[k++] = attach_kv;
	nenv[k] = NULL;
	return run(ctx, wrapper, nenv);
}

static execve_fn real_execve(void)
{
	if (!r_execve)
		ml_sv_resolve();
	return r_execve;
}

struct exec_ctx {
	char *const *argv;
};

static int run_execve(void *ctx, const char *wrapper, char *const envp[])
{
	return real_execve()(wrapper, ((struct exec_ctx *)ctx)->argv, envp);
}

/* try_exec execs the wrapper instead when the program found for file
 * (searched in PATH when search_path) needs the supervisor; it returns
 * only when it did not exec. */
static void try_exec(const char *file, int search_path, char *const argv[], char *const envp[], int saved)
{
	size_t n;
	const char *wrapper = plan(envp, argv, &n);
	char target[SV_PATH];
	if (!wrapper || !file)
		return;
	if ((search_path ? search(file, target, sizeof target) : absolute(file, target, sizeof target)) < 0)
		return;
	if (!wrap(target, wrapper))
		return;
	struct exec_ctx c = {argv};
	errno = saved;
	via_wrapper(target, wrapper, envp, n, run_execve, &c);
	/* the wrapper could not be executed: run the program as asked */
}

ML_EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
	int saved = errno;
	try_exec(path, 0, argv, envp, saved);
	errno = saved;
	return real_execve()(path, argv, envp);
}

ML_EXPORT int execv(const char *path, char *const argv[])
{
	int saved = errno;
	try_exec(path, 0, argv, environ, saved);
	errno = saved;
	if (!r_execv)
		ml_sv_resolve();
	return r_execv(path, argv);
}

ML_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
	int saved = errno;
	try_exec(file, 1, argv, envp, saved);
	errno = saved;
	if (!r_execvpe)
		ml_sv_resolve();
	return r_execvpe(file, argv, envp);
}

ML_EXPORT int execvp(const char *file, char *const argv[])
{
	int saved = errno;
	try_exec(file, 1, argv, environ, saved);
	errno = saved;
	if (!r_execvp)
		ml_sv_resolve();
	return r_execvp(file, argv);
}

/* The execl family builds its argv on the stack, as glibc does, and goes
 * through the hooks above (glibc's own execl calls its internal execve). */
#define COLLECT_ARGS(first, last_named, extra)                                 \
	va_list ap;                                                            \
	va_start(ap, last_named);                                              \
	size_t argc = 1;                                                       \
	{                                                                      \
		va_list cp;                                                    \
		va_copy(cp, ap);                                               \
		while (va_arg(cp, char *) != NULL)                             \
			if (++argc >= (size_t)1 << 20) {                       \
				va_end(cp);                                    \
				va_end(ap);                                    \
				errno = E2BIG;                                 \
				return -1;                                     \
			}                                                      \
		va_end(cp);                                                    \
	}                                                                      \
	char *argv[argc + 1];                                                  \
	argv[0] = (char *)(first);                                             \
	for (size_t i = 1; i <= argc; i++)                                     \
		argv[i] = va_arg(ap, char *);                                  \
	extra;                                                                 \
	va_end(ap)

ML_EXPORT int execl(const char *path, const char *arg, ...)
{
	COLLECT_ARGS(arg, arg, (void)0);
	return execv(path, argv);
}

ML_EXPORT int execlp(const char *file, const char *arg, ...)
{
	COLLECT_ARGS(arg, arg, (void)0);
	return execvp(file, argv);
}

ML_EXPORT int execle(const char *path, const char *arg, ...)
{
	char *const *envp;
	COLLECT_ARGS(arg, arg, envp = va_arg(ap, char *const *));
	return execve(path, argv, envp);
}

/* ---- posix_spawn ------------------------------------------------------ */

struct spawn_ctx {
	pid_t *pid;
	const posix_spawn_file_actions_t *fa;
	const posix_spawnattr_t *attr;
	char *const *argv;
};

static int run_spawn(void *ctx, const char *wrapper, char *const envp[])
{
	struct spawn_ctx *c = ctx;
	return r_spawn(c->pid, wrapper, c->fa, c->attr, c->argv, envp);
}

/* try_spawn spawns the wrapper instead when the program needs the
 * supervisor: it returns 1 with *rc set when it did. */
static int try_spawn(pid_t *pid, const char *file, int search_path, const posix_spawn_file_actions_t *fa,
		     const posix_spawnattr_t *attr, char *const argv[], char *const envp[], int *rc)
{
	size_t n;
	const char *wrapper = plan(envp, argv, &n);
	char target[SV_PATH];
	if (!wrapper || !file)
		return 0;
	if ((search_path ? search(file, target, sizeof target) : absolute(file, target, sizeof target)) < 0)
		return 0;
	if (!wrap(target, wrapper))
		return 0;
	if (!r_spawn)
		ml_sv_resolve();
	struct spawn_ctx c = {pid, fa, attr, argv};
	*rc = via_wrapper(target, wrapper, envp, n, run_spawn, &c);
	return *rc == 0; /* the wrapper could not be started: spawn as asked */
}

ML_EXPORT int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
			  const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	int saved = errno, rc;
	if (try_spawn(pid, path, 0, fa, attr, argv, envp, &rc))
		return rc;
	errno = saved;
	if (!r_spawn)
		ml_sv_resolve();
	return r_spawn(pid, path, fa, attr, argv, envp);
}

ML_EXPORT int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
			   const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	int saved = errno, rc;
	if (try_spawn(pid, file, 1, fa, attr, argv, envp, &rc))
		return rc;
	errno = saved;
	if (!r_spawnp)
		ml_sv_resolve();
	return r_spawnp(pid, file, fa, attr, argv, envp);
}
