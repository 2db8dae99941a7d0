/*
 * Core of the layer: state, the control connection to the intproxy, the
 * wire helpers, the fd and object tables and the fast path rules.
 */
#include "layer.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int ml_state = ML_STATE_OFF;
pid_t ml_self_pid;
uint32_t ml_flags;
__thread int ml_guard __attribute__((tls_model("initial-exec")));

/* ---- real symbols ---------------------------------------------------- */

void *ml_real(const char *name)
{
	ml_guard++;
	void *p = dlsym(RTLD_NEXT, name);
	ml_guard--;
	return p;
}

pid_t ml_getpid(void) { return (pid_t)syscall(SYS_getpid); }

/* ---- warnings --------------------------------------------------------- */

static void write_all_stderr(const char *s, size_t n)
{
	while (n > 0) {
		long w = syscall(SYS_write, 2, s, n);
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

static int warned_unreachable;

void ml_warn(const char *msg)
{
	char buf[512];
	size_t n = 0;
	const char *pre = "mirrord layer: ";
	for (const char *s = pre; *s && n < sizeof buf - 2; s++)
		buf[n++] = *s;
	for (const char *s = msg; *s && n < sizeof buf - 2; s++)
		buf[n++] = *s;
	buf[n++] = '\n';
	write_all_stderr(buf, n);
}

/* ---- message building ------------------------------------------------- */

void mb_init(struct ml_buf *b, uint8_t *mem, size_t cap, uint8_t op)
{
	b->p = mem;
	b->cap = cap;
	b->len = 0;
	b->overflow = 0;
	mb_u32(b, 0); /* length, patched by ml_call */
	mb_u8(b, op);
	mb_u8(b, 0);
	mb_u8(b, 0);
	mb_u8(b, 0);
}

static void mb_put(struct ml_buf *b, const void *src, size_t n)
{
	if (b->overflow || b->len + n > b->cap) {
		b->overflow = 1;
		return;
	}
	memcpy(b->p + b->len, src, n);
	b->len += n;
}

void mb_u8(struct ml_buf *b, uint8_t v) { mb_put(b, &v, 1); }
void mb_u16(struct ml_buf *b, uint16_t v)
{
	uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
	mb_put(b, x, 2);
}
void mb_u32(struct ml_buf *b, uint32_t v)
{
	uint8_t x[4];
	for (int i = 0; i < 4; i++)
		x[i] = (uint8_t)(v >> (8 * i));
	mb_put(b, x, 4);
}
void mb_u64(struct ml_buf *b, uint64_t v)
{
	uint8_t x[8];
	for (int i = 0; i < 8; i++)
		x[i] = (uint8_t)(v >> (8 * i));
	mb_put(b, x, 8);
}
void mb_bytes(struct ml_buf *b, const void *s, size_t n)
{
	if (n > 0xffff) {
		b->overflow = 1;
		return;
	}
	mb_u16(b, (uint16_t)n);
	mb_put(b, s, n);
}
void mb_str(struct ml_buf *b, const char *s) { mb_bytes(b, s, s ? strlen(s) : 0); }
void mb_addr(struct ml_buf *b, const struct ml_addr *a)
{
	mb_u8(b, a->fam);
	mb_u16(b, a->port);
	mb_put(b, a->ip, 16);
}

/* ---- response reading ------------------------------------------------- */

static const uint8_t *mr_take(struct ml_resp *r, size_t n)
{
	if (r->bad || r->off + n > r->len) {
		r->bad = 1;
		return NULL;
	}
	const uint8_t *p = r->p + r->off;
	r->off += n;
	return p;
}

uint8_t mr_u8(struct ml_resp *r)
{
	const uint8_t *p = mr_take(r, 1);
	return p ? p[0] : 0;
}
uint16_t mr_u16(struct ml_resp *r)
{
	const uint8_t *p = mr_take(r, 2);
	return p ? (uint16_t)(p[0] | (p[1] << 8)) : 0;
}
uint32_t mr_u32(struct ml_resp *r)
{
	const uint8_t *p = mr_take(r, 4);
	uint32_t v = 0;
	if (p)
		for (int i = 0; i < 4; i++)
			v |= (uint32_t)p[i] << (8 * i);
	return v;
}
uint64_t mr_u64(struct ml_resp *r)
{
	const uint8_t *p = mr_take(r, 8);
	uint64_t v = 0;
	if (p)
		for (int i = 0; i < 8; i++)
			v |= (uint64_t)p[i] << (8 * i);
	return v;
}
int32_t mr_i32(struct ml_resp *r) { return (int32_t)mr_u32(r); }
int64_t mr_i64(struct ml_resp *r) { return (int64_t)mr_u64(r); }

int mr_str(struct ml_resp *r, char *out, size_t cap)
{
	uint16_t n = mr_u16(r);
	const uint8_t *p = mr_take(r, n);
	if (!p || (size_t)n + 1 > cap) {
		r->bad = 1;
		return -1;
	}
	memcpy(out, p, n);
	out[n] = 0;
	return n;
}

void mr_addr(struct ml_resp *r, struct ml_addr *a)
{
	a->fam = mr_u8(r);
	a->port = mr_u16(r);
	const uint8_t *p = mr_take(r, 16);
	if (p)
		memcpy(a->ip, p, 16);
}

int ml_resp_errno(struct ml_resp *r)
{
	int32_t e = mr_i32(r);
	return (r->bad || e <= 0) ? EIO : e;
}

int ml_outcome(int rc, struct ml_resp *r)
{
	if (rc < 0 || r->status == ML_ST_LOCAL)
		return 1;
	if (r->status != ML_ST_OK) {
		errno = r->status == ML_ST_ERRNO ? ml_resp_errno(r) : EIO;
		return -1;
	}
	return 0;
}

/* ---- addresses -------------------------------------------------------- */

int ml_from_sockaddr(const struct sockaddr *sa, socklen_t len, struct ml_addr *a)
{
	memset(a, 0, sizeof *a);
	if (!sa)
		return -1;
	if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)sa;
		a->fam = ML_FAM_V4;
		a->port = ntohs(s->sin_port);
		memcpy(a->ip, &s->sin_addr, 4);
		return 0;
	}
	if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)sa;
		a->port = ntohs(s->sin6_port);
		if (IN6_IS_ADDR_V4MAPPED(&s->sin6_addr)) {
			a->fam = ML_FAM_V4;
			memcpy(a->ip, ((const uint8_t *)&s->sin6_addr) + 12, 4);
		} else {
			a->fam = ML_FAM_V6;
			memcpy(a->ip, &s->sin6_addr, 16);
		}
		return 0;
	}
	return -1;
}

/* ml_to_sockaddr renders a for a socket of the given family (a v4 address on
 * an AF_INET6 socket becomes v4-mapped). */
socklen_t ml_to_sockaddr(const struct ml_addr *a, int family, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof *ss);
	if (family == AF_INET && a->fam == ML_FAM_V4) {
		struct sockaddr_in *s = (struct sockaddr_in *)ss;
		s->sin_family = AF_INET;
		s->sin_port = htons(a->port);
		memcpy(&s->sin_addr, a->ip, 4);
		return sizeof *s;
	}
	if (family == AF_INET6) {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)ss;
		s->sin6_family = AF_INET6;
		s->sin6_port = htons(a->port);
		if (a->fam == ML_FAM_V4) {
			uint8_t *ip = (uint8_t *)&s->sin6_addr;
			ip[10] = 0xff;
			ip[11] = 0xff;
			memcpy(ip + 12, a->ip, 4);
		} else {
			memcpy(&s->sin6_addr, a->ip, 16);
		}
		return sizeof *s;
	}
	return 0;
}

void ml_copy_sockaddr_out(const struct sockaddr_storage *ss, socklen_t sslen, struct sockaddr *out,
			  socklen_t *outlen)
{
	if (!out || !outlen)
		return;
	socklen_t n = *outlen < sslen ? *outlen : sslen;
	memcpy(out, ss, n);
	*outlen = sslen;
}

/* ---- fd and object tables -------------------------------------------- */

static struct ml_fd fdtab[ML_MAXFD];

struct ml_fd *ml_fd_get(int fd)
{
	if (fd < 0 || fd >= ML_MAXFD)
		return NULL;
	return &fdtab[fd];
}

#define ML_MAXOBJ 512
static struct ml_obj objs[ML_MAXOBJ];
static int obj_lock;

static void obj_lock_acquire(void)
{
	while (__atomic_exchange_n(&obj_lock, 1, __ATOMIC_ACQUIRE))
		;
}
static void obj_lock_release(void) { __atomic_store_n(&obj_lock, 0, __ATOMIC_RELEASE); }

int ml_obj_new(uint8_t type)
{
	obj_lock_acquire();
	for (int i = 0; i < ML_MAXOBJ; i++) {
		if (objs[i].type == ML_OBJ_FREE) {
			memset(&objs[i], 0, sizeof objs[i]);
			objs[i].type = type;
			objs[i].refs = 1;
			objs[i].owner = ml_getpid();
			obj_lock_release();
			return i + 1;
		}
	}
	obj_lock_release();
	return 0;
}

struct ml_obj *ml_obj_get(int idx)
{
	if (idx <= 0 || idx > ML_MAXOBJ || objs[idx - 1].type == ML_OBJ_FREE)
		return NULL;
	return &objs[idx - 1];
}

void ml_obj_ref(int idx)
{
	if (idx <= 0 || idx > ML_MAXOBJ)
		return;
	__atomic_add_fetch(&objs[idx - 1].refs, 1, __ATOMIC_ACQ_REL);
}

int ml_obj_unref(int idx)
{
	if (idx <= 0 || idx > ML_MAXOBJ)
		return 0;
	return __atomic_sub_fetch(&objs[idx - 1].refs, 1, __ATOMIC_ACQ_REL) == 0;
}

static void obj_free(int idx)
{
	obj_lock_acquire();
	objs[idx - 1].type = ML_OBJ_FREE;
	obj_lock_release();
}

/* ml_fd_release handles the end of one fd: it drops its object reference and
 * tells the intproxy when the last fd of a listener or file closes in the
 * process that made it. */
static void ml_fd_release(int fd)
{
	struct ml_fd *e = ml_fd_get(fd);
	if (!e || e->kind == ML_FD_NONE)
		return;
	if (ml_getpid() != ml_self_pid)
		return; /* a vfork child: this memory is the parent's */
	int idx = e->obj;
	memset(e, 0, sizeof *e);
	if (!idx || !ml_obj_unref(idx))
		return;
	struct ml_obj *o = &objs[idx - 1];
	if (o->owner == ml_getpid() && ml_state == ML_STATE_ON) {
		uint8_t mem[64], in[64];
		struct ml_buf b;
		struct ml_resp r;
		if (o->type == ML_OBJ_LISTENER && o->reported) {
			mb_init(&b, mem, sizeof mem, ML_OP_UNLISTEN);
			mb_u16(&b, o->req_port);
			mb_u16(&b, o->act_port);
			ml_call(&b, in, sizeof in, &r, 1);
		} else if (o->type == ML_OBJ_FILE && o->token) {
			mb_init(&b, mem, sizeof mem, ML_OP_CLOSE_FILE);
			mb_u64(&b, o->token);
			ml_call(&b, in, sizeof in, &r, 1);
		}
	}
	obj_free(idx);
}

void ml_fd_clear(int fd) { ml_fd_release(fd); }

void ml_fd_fresh(int fd)
{
	struct ml_fd *e = ml_fd_get(fd);
	if (e && e->kind != ML_FD_NONE)
		ml_fd_release(fd);
}

void ml_fd_copy(int from, int to)
{
	struct ml_fd *src = ml_fd_get(from), *dst = ml_fd_get(to);
	if (!dst || (dst->kind == ML_FD_NONE && (!src || src->kind == ML_FD_NONE)))
		return;
	if (ml_getpid() != ml_self_pid)
		return;
	ml_fd_release(to);
	if (!src || src->kind == ML_FD_NONE)
		return;
	*dst = *src;
	if (dst->obj)
		ml_obj_ref(dst->obj);
}

/* ---- control connection ---------------------------------------------- */

#define ML_SLOTS 4
struct slot {
	int fd;
	int busy;
	pid_t pid;
	uint64_t ino; /* the socket's inode: detects an fd the app closed behind our back */
};
static struct slot slots[ML_SLOTS] = {{-1, 0, 0, 0}, {-1, 0, 0, 0}, {-1, 0, 0, 0}, {-1, 0, 0, 0}};

static uint64_t fd_ino(int fd)
{
	struct stat st;
	if (syscall(SYS_fstat, fd, &st) < 0)
		return 0;
	return (uint64_t)st.st_ino;
}

static struct sockaddr_un ctl_addr;
static socklen_t ctl_addrlen;
static int ctl_timeout_ms = 45000; /* longer than any intproxy-side timeout */
static int64_t dead_until_ns; /* after a timeout, skip the intproxy for a while */

int ml_is_control_fd(int fd)
{
	if (fd < 0)
		return 0;
	for (int i = 0; i < ML_SLOTS; i++)
		if (__atomic_load_n(&slots[i].fd, __ATOMIC_RELAXED) == fd)
			return 1;
	return 0;
}

/* The app closed or replaced one of our fds: forget it (in this process). */
void ml_control_fd_lost(int fd)
{
	pid_t pid = ml_getpid();
	for (int i = 0; i < ML_SLOTS; i++)
		if (slots[i].fd == fd && slots[i].pid == pid)
			__atomic_store_n(&slots[i].fd, -1, __ATOMIC_RELEASE);
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int write_full(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		long w = syscall(SYS_sendto, fd, p, n, MSG_NOSIGNAL, NULL, 0);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int read_full(int fd, uint8_t *p, size_t n)
{
	while (n > 0) {
		long r = syscall(SYS_read, fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* exchange sends a framed request and reads the framed answer. */
static int exchange(int fd, struct ml_buf *b, uint8_t *mem, size_t cap, struct ml_resp *r, int cloexec)
{
	uint32_t blen = (uint32_t)(b->len - 4);
	for (int i = 0; i < 4; i++)
		b->p[i] = (uint8_t)(blen >> (8 * i));
	if (write_full(fd, b->p, b->len) < 0)
		return -1;

	uint8_t hdr[8];
	size_t got = 0;
	int passed = -1;
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} cm;
	while (got < sizeof hdr) {
		struct iovec iov = {hdr + got, sizeof hdr - got};
		struct msghdr mh;
		memset(&mh, 0, sizeof mh);
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = cm.buf;
		mh.msg_controllen = sizeof cm.buf;
		long n = syscall(SYS_recvmsg, fd, &mh, MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto fail;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
			    c->cmsg_len >= CMSG_LEN(sizeof(int))) {
				int f;
				memcpy(&f, CMSG_DATA(c), sizeof f);
				if (passed < 0)
					passed = f;
				else
					syscall(SYS_close, f);
			}
		}
		got += (size_t)n;
	}
	uint32_t len = 0;
	for (int i = 0; i < 4; i++)
		len |= (uint32_t)hdr[i] << (8 * i);
	if (len < 4 || len - 4 > cap)
		goto fail;
	if (read_full(fd, mem, len - 4) < 0)
		goto fail;
	memset(r, 0, sizeof *r);
	r->status = (int32_t)(hdr[4] | (hdr[5] << 8) | (hdr[6] << 16) | ((uint32_t)hdr[7] << 24));
	r->p = mem;
	r->len = len - 4;
	r->fd = passed;
	if (passed >= 0 && !cloexec)
		syscall(SYS_fcntl, passed, F_SETFD, 0);
	return 0;
fail:
	if (passed >= 0)
		syscall(SYS_close, passed);
	return -1;
}

/* Path rules from the HELLO answer plus this process's own locations. */
#define ML_MAXRULES 128
struct rule {
	uint8_t kind, act;
	uint16_t len;
	char key; /* lower-case second (prefix, exact) or last (suffix) byte: a cheap pre-check */
	const char *s;
};
static struct rule rules[ML_MAXRULES];
static int nrules;
static char rule_pool[8192];
static size_t rule_pool_used;
static int rules_loaded;

static const char *pool_add(const char *s, size_t n)
{
	if (rule_pool_used + n + 1 > sizeof rule_pool)
		return NULL;
	char *p = rule_pool + rule_pool_used;
	memcpy(p, s, n);
	p[n] = 0;
	rule_pool_used += n + 1;
	return p;
}

static void rule_add(uint8_t kind, uint8_t act, const char *s, size_t n)
{
	if (nrules >= ML_MAXRULES || n == 0)
		return;
	const char *p = pool_add(s, n);
	if (!p)
		return;
	rules[nrules].kind = kind;
	rules[nrules].act = act;
	rules[nrules].len = (uint16_t)n;
	rules[nrules].key = (char)tolower((unsigned char)(kind == ML_RULE_SUFFIX ? s[n - 1] : s[n > 1 ? 1 : 0]));
	rules[nrules].s = p;
	nrules++;
}

/* order_rules keeps every "ask" rule before the "local" ones (an ask rule
 * overrides a local rule it overlaps) and, among the local rules, tries the
 * cheap and common prefixes first, then suffixes, then substrings. */
static void order_rules(void)
{
	static const uint8_t order[] = {ML_RULE_PREFIX, ML_RULE_EXACT, ML_RULE_SUFFIX, ML_RULE_CONTAINS};
	struct rule sorted[ML_MAXRULES];
	int k = 0;
	for (int i = 0; i < nrules; i++)
		if (rules[i].act != ML_ACT_LOCAL)
			sorted[k++] = rules[i];
	for (size_t o = 0; o < sizeof order; o++)
		for (int i = 0; i < nrules; i++)
			if (rules[i].act == ML_ACT_LOCAL && rules[i].kind == order[o])
				sorted[k++] = rules[i];
	memcpy(rules, sorted, sizeof(struct rule) * (size_t)k);
	nrules = k;
}

static int ends_with_ci(const char *s, size_t slen, const char *suf, size_t n)
{
	return slen >= n && strncasecmp(s + slen - n, suf, n) == 0;
}

int ml_path_is_local(const char *path)
{
	if (!(ml_flags & ML_F_FS) || !path || path[0] != '/')
		return 1;
	if (!(ml_flags & ML_F_FS_FAST))
		return 0;
	size_t plen = strlen(path);
	for (int i = 0; i < nrules; i++) {
		const struct rule *ru = &rules[i];
		int m = 0;
		switch (ru->kind) {
		case ML_RULE_PREFIX:
			m = plen >= ru->len && tolower((unsigned char)path[ru->len > 1 ? 1 : 0]) == ru->key &&
			    strncasecmp(path, ru->s, ru->len) == 0;
			break;
		case ML_RULE_SUFFIX:
			m = plen >= ru->len && tolower((unsigned char)path[plen - 1]) == ru->key &&
			    ends_with_ci(path, plen, ru->s, ru->len);
			break;
		case ML_RULE_CONTAINS:
			m = plen >= ru->len && strcasestr(path, ru->s) != NULL;
			break;
		case ML_RULE_EXACT:
			m = plen == ru->len && strcasecmp(path, ru->s) == 0;
			break;
		}
		if (m)
			return ru->act == ML_ACT_LOCAL;
	}
	return 0;
}

/* Process facts sent in HELLO (read into static buffers once, in the
 * constructor, and again in a forked child only for the pid). */
static char p_name[256], p_cmdline[2048], p_cwd[1024], p_exe[1024], p_home[1024], p_tmp[1024];
static size_t p_cmdline_len;

static void copy_str(char *dst, size_t cap, const char *src)
{
	size_t n = strnlen(src, cap - 1);
	memcpy(dst, src, n);
	dst[n] = 0;
}

static void read_process_facts(void)
{
	long n = syscall(SYS_readlink, "/proc/self/exe", p_exe, sizeof p_exe - 1);
	p_exe[n > 0 ? n : 0] = 0;
	const char *base = strrchr(p_exe, '/');
	base = base ? base + 1 : p_exe;
	copy_str(p_name, sizeof p_name, base);
	int fd = (int)syscall(SYS_openat, AT_FDCWD, "/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		long r = syscall(SYS_read, fd, p_cmdline, sizeof p_cmdline);
		p_cmdline_len = r > 0 ? (size_t)r : 0;
		syscall(SYS_close, fd);
	}
	if (!getcwd(p_cwd, sizeof p_cwd))
		p_cwd[0] = 0;
	const char *h = getenv("HOME");
	copy_str(p_home, sizeof p_home, h ? h : "");
	const char *t = getenv("TMPDIR");
	copy_str(p_tmp, sizeof p_tmp, t ? t : "/tmp");
}

/* The process's own default-local locations (runtime.md §4.3). */
static void add_process_rules(void)
{
	char tmp[1100];
	if (p_cwd[0] && strcmp(p_cwd, "/") != 0) {
		rule_add(ML_RULE_EXACT, ML_ACT_LOCAL, p_cwd, strlen(p_cwd));
		size_t n = strlen(p_cwd);
		memcpy(tmp, p_cwd, n);
		tmp[n] = '/';
		rule_add(ML_RULE_PREFIX, ML_ACT_LOCAL, tmp, n + 1);
	}
	if (p_exe[0])
		rule_add(ML_RULE_EXACT, ML_ACT_LOCAL, p_exe, strlen(p_exe));
	rule_add(ML_RULE_EXACT, ML_ACT_LOCAL, "/", 1);
	if (p_tmp[0] && strcmp(p_tmp, "/") != 0)
		rule_add(ML_RULE_PREFIX, ML_ACT_LOCAL, p_tmp, strlen(p_tmp));
	if (p_home[0] && strcmp(p_home, "/") != 0) {
		size_t n = strlen(p_home);
		if (n + 2 < sizeof tmp) {
			memcpy(tmp, p_home, n);
			tmp[n] = '/';
			tmp[n + 1] = '.';
			rule_add(ML_RULE_PREFIX, ML_ACT_LOCAL, tmp, n + 2);
		}
	}
}

/* ctl_connect opens a control connection and says HELLO. The first answer
 * in the process sets ml_flags and the path rules. */
static int ctl_connect(void)
{
	int fd = (int)syscall(SYS_socket, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct timeval tv = {ctl_timeout_ms / 1000, (ctl_timeout_ms % 1000) * 1000};
	syscall(SYS_setsockopt, fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	syscall(SYS_setsockopt, fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	long rc;
	do
		rc = syscall(SYS_connect, fd, &ctl_addr, ctl_addrlen);
	while (rc < 0 && errno == EINTR);
	if (rc < 0) {
		syscall(SYS_close, fd);
		return -1;
	}
	uint8_t mem[8192];
	uint8_t in[8192];
	struct ml_buf b;
	struct ml_resp r;
	mb_init(&b, mem, sizeof mem, ML_OP_HELLO);
	mb_u32(&b, (uint32_t)ml_getpid());
	mb_u32(&b, (uint32_t)syscall(SYS_getppid));
	mb_str(&b, p_name);
	mb_bytes(&b, p_cmdline, p_cmdline_len);
	mb_str(&b, p_cwd);
	mb_str(&b, p_exe);
	mb_str(&b, p_home);
	mb_str(&b, p_tmp);
	if (b.overflow || exchange(fd, &b, in, sizeof in, &r, 1) < 0 || r.status != ML_ST_OK) {
		syscall(SYS_close, fd);
		return -1;
	}
	uint32_t flags = mr_u32(&r);
	if (!rules_loaded) {
		uint16_t n = mr_u16(&r);
		for (uint16_t i = 0; i < n && !r.bad; i++) {
			uint8_t kind = mr_u8(&r), act = mr_u8(&r);
			uint16_t len = mr_u16(&r);
			const uint8_t *s = mr_take(&r, len);
			if (s)
				rule_add(kind, act, (const char *)s, len);
		}
		add_process_rules();
		order_rules();
		ml_flags = flags;
		rules_loaded = 1;
	}
	return fd;
}

static int slot_acquire(void)
{
	for (int i = 0; i < ML_SLOTS; i++)
		if (__atomic_exchange_n(&slots[i].busy, 1, __ATOMIC_ACQUIRE) == 0)
			return i;
	return -1;
}

static void slot_release(int i) { __atomic_store_n(&slots[i].busy, 0, __ATOMIC_RELEASE); }

int ml_call(struct ml_buf *b, uint8_t *mem, size_t cap, struct ml_resp *r, int cloexec)
{
	if (b->overflow)
		return -1;
	if (dead_until_ns && now_ns() < dead_until_ns)
		return -1;
	int saved = errno;
	ml_guard++;
	pid_t pid = ml_getpid();
	int i = slot_acquire();
	if (i >= 0 && slots[i].fd >= 0 && slots[i].pid != pid) {
		/* a vfork/clone child sharing our memory: do not touch the slot */
		slot_release(i);
		i = -1;
	}
	int fd, rc = -1;
	if (i >= 0 && slots[i].fd >= 0 && fd_ino(slots[i].fd) != slots[i].ino) {
		/* closed by close_range/closefrom or a raw syscall, maybe reused:
		 * not ours any more, so neither use nor close it */
		slots[i].fd = -1;
	}
	if (i >= 0) {
		if (slots[i].fd < 0) {
			slots[i].fd = ctl_connect();
			slots[i].pid = pid;
			slots[i].ino = slots[i].fd >= 0 ? fd_ino(slots[i].fd) : 0;
		}
		fd = slots[i].fd;
	} else {
		fd = ctl_connect();
	}
	if (fd >= 0) {
		rc = exchange(fd, b, mem, cap, r, cloexec);
		if (rc < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			dead_until_ns = now_ns() + 5LL * 1000000000;
			ml_warn("the intproxy did not answer in time; deciding locally for 5s");
		}
		if (rc < 0 || i < 0) {
			syscall(SYS_close, fd);
			if (i >= 0)
				slots[i].fd = -1;
		}
	}
	if (i >= 0)
		slot_release(i);
	if (rc < 0 && !warned_unreachable) {
		warned_unreachable = 1;
		ml_warn("lost the intproxy; calls are now decided locally");
	}
	ml_guard--;
	errno = saved;
	return rc;
}

/* ---- lifecycle -------------------------------------------------------- */

static void atfork_child(void)
{
	/* The child reconnects on first use: the inherited connections belong
	 * to the parent. Only async-signal-safe work here. */
	for (int i = 0; i < ML_SLOTS; i++) {
		if (slots[i].fd >= 0)
			syscall(SYS_close, slots[i].fd);
		slots[i].fd = -1;
		slots[i].busy = 0;
	}
	obj_lock = 0;
	dead_until_ns = 0;
	ml_self_pid = (pid_t)syscall(SYS_getpid);
}

static int parse_addr(const char *a)
{
	if (strncmp(a, "unix:", 5) == 0)
		a += 5;
	size_t n = strlen(a);
	if (n == 0 || n >= sizeof ctl_addr.sun_path)
		return -1;
	memset(&ctl_addr, 0, sizeof ctl_addr);
	ctl_addr.sun_family = AF_UNIX;
	memcpy(ctl_addr.sun_path, a, n);
	if (a[0] == '@')
		ctl_addr.sun_path[0] = 0; /* abstract namespace */
	ctl_addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (a[0] == '@' ? 0 : 1));
	return 0;
}

/* glibc passes constructors argc, argv and the initial environment array
 * (which Go's runtime reads too: ml_sv_start marks it). */
__attribute__((constructor)) static void ml_init(int argc, char **argv, char **envp)
{
	(void)argc;
	(void)argv;
	ml_guard++;
	ml_sv_resolve();
	if (ml_sv_start(envp)) {
		/* the supervisor handles every call of this process */
		ml_guard--;
		return;
	}
	const char *addr = getenv("MIRRORD_LAYER_INTPROXY_ADDR");
	if (!addr || !*addr) {
		ml_guard--;
		return;
	}
	if (parse_addr(addr) < 0) {
		ml_warn("MIRRORD_LAYER_INTPROXY_ADDR is not a unix socket path; running without mirrord");
		ml_guard--;
		return;
	}
	const char *t = getenv("MIRRORD_LAYER_TIMEOUT_MS");
	if (t && atoi(t) > 0)
		ctl_timeout_ms = atoi(t);
	ml_self_pid = ml_getpid();
	read_process_facts();
	pthread_atfork(NULL, NULL, atfork_child);
	int fd = ctl_connect();
	if (fd < 0) {
		ml_warn("cannot reach the intproxy (MIRRORD_LAYER_INTPROXY_ADDR); this process runs without mirrord");
		ml_guard--;
		return;
	}
	if (ml_flags & ML_F_SKIP) {
		syscall(SYS_close, fd);
		ml_guard--;
		return;
	}
	slots[0].fd = fd;
	slots[0].pid = ml_getpid();
	slots[0].ino = fd_ino(fd);
	__atomic_store_n(&ml_state, ML_STATE_ON, __ATOMIC_RELEASE);
	ml_guard--;
}
