/*
 * Socket hooks: outgoing connections through intproxy interceptors, incoming
 * subscriptions for listeners, and the bookkeeping that makes getpeername,
 * getsockname, dup and close tell the truth.
 */
#include "layer.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

typedef int (*socket_fn)(int, int, int);
typedef int (*addr_fn)(int, const struct sockaddr *, socklen_t);
typedef int (*getname_fn)(int, struct sockaddr *, socklen_t *);
typedef int (*listen_fn)(int, int);
typedef int (*accept_fn)(int, struct sockaddr *, socklen_t *);
typedef int (*accept4_fn)(int, struct sockaddr *, socklen_t *, int);
typedef int (*close_fn)(int);
typedef int (*dup_fn)(int);
typedef int (*dup2_fn)(int, int);
typedef int (*dup3_fn)(int, int, int);

static getname_fn real_getsockname_fn(void)
{
	REAL(getname_fn, "getsockname");
	return real_fn;
}

static int is_loopback_or_any(const struct ml_addr *a)
{
	static const uint8_t zero[16];
	if (a->fam == ML_FAM_V4)
		return a->ip[0] == 127 || memcmp(a->ip, zero, 4) == 0;
	if (a->fam == ML_FAM_V6)
		return memcmp(a->ip, zero, 15) == 0 && (a->ip[15] == 1 || a->ip[15] == 0);
	return 0;
}

/* socktype returns SOCK_STREAM/SOCK_DGRAM of fd, from the table or the kernel. */
static int socktype(int fd)
{
	struct ml_fd *e = ml_fd_get(fd);
	if (e && e->socktype)
		return e->socktype;
	int t = 0;
	socklen_t n = sizeof t;
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &t, &n) < 0)
		return 0;
	return t;
}

ML_EXPORT int socket(int domain, int type, int protocol)
{
	REAL(socket_fn, "socket");
	int fd = real_fn(domain, type, protocol);
	if (fd >= 0 && ML_ACTIVE()) {
		ml_fd_fresh(fd);
		struct ml_fd *e = ml_fd_get(fd);
		if (e && (domain == AF_INET || domain == AF_INET6)) {
			e->kind = ML_FD_SOCK;
			e->socktype = (uint8_t)(type & 0xf);
			e->family = (uint8_t)domain;
		}
	}
	return fd;
}

/* connect_unix asks whether a unix stream path lives in the target. */
static int connect_unix(int fd, const struct sockaddr *addr, socklen_t len, addr_fn real, int *handled)
{
	const struct sockaddr_un *su = (const struct sockaddr_un *)addr;
	*handled = 0;
	if (len <= offsetof(struct sockaddr_un, sun_path) || su->sun_path[0] == 0)
		return 0;
	size_t n = strnlen(su->sun_path, len - offsetof(struct sockaddr_un, sun_path));
	uint8_t mem[256], in[128];
	struct ml_buf b;
	struct ml_resp r;
	mb_init(&b, mem, sizeof mem, ML_OP_CONNECT);
	mb_u8(&b, ML_PROTO_UNIX);
	mb_u8(&b, ML_FAM_UNIX);
	mb_bytes(&b, su->sun_path, n);
	if (ml_call(&b, in, sizeof in, &r, 1) < 0 || r.status == ML_ST_LOCAL)
		return 0;
	*handled = 1;
	if (r.status == ML_ST_ERRNO) {
		errno = ml_resp_errno(&r);
		return -1;
	}
	char path[108];
	if (mr_str(&r, path, sizeof path) < 0) {
		errno = EIO;
		return -1;
	}
	struct sockaddr_un icpt;
	memset(&icpt, 0, sizeof icpt);
	icpt.sun_family = AF_UNIX;
	memcpy(icpt.sun_path, path, strlen(path));
	return real(fd, (struct sockaddr *)&icpt, sizeof icpt);
}

ML_EXPORT int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	REAL(addr_fn, "connect");
	if (!ML_ACTIVE() || !addr)
		return real_fn(fd, addr, len);
	int fam = addr->sa_family;
	if (fam == AF_UNIX) {
		if (!(ml_flags & ML_F_UNIX_REMOTE) || socktype(fd) != SOCK_STREAM)
			return real_fn(fd, addr, len);
		int handled;
		ml_guard++;
		int rc = connect_unix(fd, addr, len, real_fn, &handled);
		int e = errno;
		ml_guard--;
		if (!handled)
			return real_fn(fd, addr, len);
		errno = e;
		return rc;
	}
	struct ml_addr a;
	if ((fam != AF_INET && fam != AF_INET6) || ml_from_sockaddr(addr, len, &a) < 0 || a.port == 0)
		return real_fn(fd, addr, len);
	int st = socktype(fd);
	uint8_t proto;
	if (st == SOCK_STREAM && (ml_flags & ML_F_OUT_TCP))
		proto = ML_PROTO_TCP;
	else if (st == SOCK_DGRAM && (ml_flags & ML_F_OUT_UDP))
		proto = ML_PROTO_UDP;
	else
		return real_fn(fd, addr, len);
	if ((ml_flags & ML_F_IGNORE_LOCALHOST) && is_loopback_or_any(&a))
		return real_fn(fd, addr, len);
	struct ml_fd *cur = ml_fd_get(fd);
	if (cur && cur->kind == ML_FD_OUTGOING && cur->icpt.fam && memcmp(&cur->peer, &a, sizeof a) == 0) {
		/* connect again on a connecting socket (EALREADY/EISCONN checks) */
		struct sockaddr_storage ss;
		socklen_t sslen = ml_to_sockaddr(&cur->icpt, fam, &ss);
		return real_fn(fd, (struct sockaddr *)&ss, sslen);
	}

	ml_guard++;
	uint8_t mem[64], in[64];
	struct ml_buf b;
	struct ml_resp r;
	mb_init(&b, mem, sizeof mem, ML_OP_CONNECT);
	mb_u8(&b, proto);
	mb_addr(&b, &a);
	int rc = ml_call(&b, in, sizeof in, &r, 1);
	ml_guard--;
	if (rc < 0 || r.status == ML_ST_LOCAL)
		return real_fn(fd, addr, len);
	if (r.status != ML_ST_OK) {
		errno = ml_resp_errno(&r);
		return -1;
	}
	struct ml_addr icpt;
	mr_addr(&r, &icpt);
	struct sockaddr_storage ss;
	socklen_t sslen = ml_to_sockaddr(&icpt, fam, &ss);
	if (r.bad || sslen == 0) {
		errno = EIO;
		return -1;
	}
	rc = real_fn(fd, (struct sockaddr *)&ss, sslen);
	int saved = errno;
	if (rc == 0 || saved == EINPROGRESS) {
		struct ml_fd *e = ml_fd_get(fd);
		if (e) {
			e->kind = ML_FD_OUTGOING;
			e->socktype = (uint8_t)st;
			e->family = (uint8_t)fam;
			e->peer = a;
			e->icpt = icpt;
		}
	}
	errno = saved;
	return rc;
}

ML_EXPORT int bind(int fd, const struct sockaddr *addr, socklen_t len)
{
	REAL(addr_fn, "bind");
	if (!ML_ACTIVE() || !(ml_flags & ML_F_INCOMING) || !addr)
		return real_fn(fd, addr, len);
	int fam = addr->sa_family;
	struct ml_addr a;
	if ((fam != AF_INET && fam != AF_INET6) || ml_from_sockaddr(addr, len, &a) < 0 || a.port == 0 ||
	    socktype(fd) != SOCK_STREAM)
		return real_fn(fd, addr, len);

	ml_guard++;
	uint8_t mem[64], in[64];
	struct ml_buf b;
	struct ml_resp r;
	mb_init(&b, mem, sizeof mem, ML_OP_BIND);
	mb_addr(&b, &a);
	int rc = ml_call(&b, in, sizeof in, &r, 1);
	ml_guard--;
	if (rc < 0 || r.status != ML_ST_OK)
		return real_fn(fd, addr, len);
	uint16_t port = mr_u16(&r);
	uint8_t fallback = mr_u8(&r);

	struct sockaddr_storage ss;
	socklen_t sslen = len < (socklen_t)sizeof ss ? len : (socklen_t)sizeof ss;
	memcpy(&ss, addr, sslen);
	((struct sockaddr_in *)&ss)->sin_port = htons(port); /* same offset for v6 */
	rc = real_fn(fd, (struct sockaddr *)&ss, sslen);
	if (rc < 0 && fallback && (errno == EADDRINUSE || errno == EACCES)) {
		((struct sockaddr_in *)&ss)->sin_port = 0;
		rc = real_fn(fd, (struct sockaddr *)&ss, sslen);
	}
	if (rc < 0)
		return rc;
	int saved = errno;
	struct sockaddr_storage act;
	socklen_t actlen = sizeof act;
	struct ml_addr aa;
	if (real_getsockname_fn()(fd, (struct sockaddr *)&act, &actlen) == 0 &&
	    ml_from_sockaddr((struct sockaddr *)&act, actlen, &aa) == 0) {
		int idx = ml_obj_new(ML_OBJ_LISTENER);
		struct ml_fd *e = ml_fd_get(fd);
		if (idx && e) {
			ml_fd_fresh(fd);
			struct ml_obj *o = ml_obj_get(idx);
			o->req_port = a.port;
			o->act_port = aa.port;
			e->kind = ML_FD_LISTENER;
			e->socktype = SOCK_STREAM;
			e->family = (uint8_t)fam;
			e->obj = (uint16_t)idx;
		} else if (idx) {
			ml_obj_unref(idx);
		}
	}
	errno = saved;
	return 0;
}

ML_EXPORT int listen(int fd, int backlog)
{
	REAL(listen_fn, "listen");
	int rc = real_fn(fd, backlog);
	if (rc < 0 || !ML_ACTIVE())
		return rc;
	struct ml_fd *e = ml_fd_get(fd);
	if (!e || e->kind != ML_FD_LISTENER)
		return rc;
	struct ml_obj *o = ml_obj_get(e->obj);
	if (!o || o->reported)
		return rc;
	struct sockaddr_storage act;
	socklen_t actlen = sizeof act;
	struct ml_addr aa;
	if (real_getsockname_fn()(fd, (struct sockaddr *)&act, &actlen) < 0 ||
	    ml_from_sockaddr((struct sockaddr *)&act, actlen, &aa) < 0)
		return rc;
	ml_guard++;
	uint8_t mem[64], in[64];
	struct ml_buf b;
	struct ml_resp r;
	mb_init(&b, mem, sizeof mem, ML_OP_LISTEN);
	mb_u16(&b, o->req_port);
	mb_addr(&b, &aa);
	int crc = ml_call(&b, in, sizeof in, &r, 1);
	ml_guard--;
	if (crc < 0)
		return rc;
	o->reported = 1;
	if (r.status == ML_ST_LOCAL)
		return rc;
	if (r.status != ML_ST_OK) {
		errno = ml_resp_errno(&r);
		return -1;
	}
	o->subscribed = 1;
	return rc;
}

/* after_accept asks who really connected when the connection came from the
 * intproxy on behalf of an incoming (stolen or mirrored) connection. */
static void after_accept(int lfd, int nfd, struct sockaddr *addr, socklen_t *len)
{
	ml_fd_fresh(nfd);
	struct ml_fd *le = ml_fd_get(lfd), *ne = ml_fd_get(nfd);
	if (!le || !ne || le->kind != ML_FD_LISTENER)
		return;
	struct ml_obj *o = ml_obj_get(le->obj);
	if (!o || !o->subscribed)
		return;
	struct sockaddr_storage peer;
	socklen_t plen = sizeof peer;
	struct ml_addr pa;
	REAL(getname_fn, "getpeername");
	if (real_fn(nfd, (struct sockaddr *)&peer, &plen) < 0 ||
	    ml_from_sockaddr((struct sockaddr *)&peer, plen, &pa) < 0 || !is_loopback_or_any(&pa))
		return;
	int saved = errno;
	ml_guard++;
	uint8_t mem[64], in[64];
	struct ml_buf b;
	struct ml_resp r;
	mb_init(&b, mem, sizeof mem, ML_OP_ACCEPTED);
	mb_u16(&b, o->act_port);
	mb_u16(&b, pa.port);
	int rc = ml_call(&b, in, sizeof in, &r, 1);
	ml_guard--;
	if (rc == 0 && r.status == ML_ST_OK) {
		struct ml_addr remote;
		mr_addr(&r, &remote);
		if (!r.bad && remote.fam) {
			ne->kind = ML_FD_ACCEPTED;
			ne->socktype = SOCK_STREAM;
			ne->family = le->family;
			ne->peer = remote;
			if (addr && len) {
				struct sockaddr_storage ss;
				socklen_t sslen = ml_to_sockaddr(&remote, le->family, &ss);
				if (sslen)
					ml_copy_sockaddr_out(&ss, sslen, addr, len);
			}
		}
	}
	errno = saved;
}

ML_EXPORT int accept(int fd, struct sockaddr *addr, socklen_t *len)
{
	REAL(accept_fn, "accept");
	int nfd = real_fn(fd, addr, len);
	if (nfd >= 0 && ML_ACTIVE())
		after_accept(fd, nfd, addr, len);
	return nfd;
}

ML_EXPORT int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
	REAL(accept4_fn, "accept4");
	int nfd = real_fn(fd, addr, len, flags);
	if (nfd >= 0 && ML_ACTIVE())
		after_accept(fd, nfd, addr, len);
	return nfd;
}

ML_EXPORT int getpeername(int fd, struct sockaddr *addr, socklen_t *len)
{
	REAL(getname_fn, "getpeername");
	if (ML_ACTIVE()) {
		struct ml_fd *e = ml_fd_get(fd);
		if (e && (e->kind == ML_FD_OUTGOING || e->kind == ML_FD_ACCEPTED) && e->peer.fam) {
			struct sockaddr_storage ss;
			socklen_t sslen = ml_to_sockaddr(&e->peer, e->family, &ss);
			if (sslen) {
				if (!addr || !len) {
					errno = EFAULT;
					return -1;
				}
				ml_copy_sockaddr_out(&ss, sslen, addr, len);
				return 0;
			}
		}
	}
	return real_fn(fd, addr, len);
}

ML_EXPORT int getsockname(int fd, struct sockaddr *addr, socklen_t *len)
{
	getname_fn real = real_getsockname_fn();
	int rc = real(fd, addr, len);
	if (rc < 0 || !ML_ACTIVE() || !addr || !len)
		return rc;
	struct ml_fd *e = ml_fd_get(fd);
	if (!e || e->kind != ML_FD_LISTENER)
		return rc;
	struct ml_obj *o = ml_obj_get(e->obj);
	if (o && o->req_port != o->act_port && *len >= (socklen_t)sizeof(struct sockaddr_in) &&
	    (addr->sa_family == AF_INET || addr->sa_family == AF_INET6))
		((struct sockaddr_in *)addr)->sin_port = htons(o->req_port);
	return rc;
}

ML_EXPORT int close(int fd)
{
	REAL(close_fn, "close");
	if (ml_state == ML_STATE_ON && ml_guard == 0) {
		struct ml_fd *e = ml_fd_get(fd);
		if (e && e->kind != ML_FD_NONE)
			ml_fd_clear(fd);
		else if (ml_is_control_fd(fd))
			ml_control_fd_lost(fd);
	}
	return real_fn(fd);
}

ML_EXPORT int dup(int fd)
{
	REAL(dup_fn, "dup");
	int nfd = real_fn(fd);
	if (nfd >= 0 && ML_ACTIVE())
		ml_fd_copy(fd, nfd);
	return nfd;
}

ML_EXPORT int dup2(int fd, int nfd)
{
	REAL(dup2_fn, "dup2");
	if (ML_ACTIVE() && ml_is_control_fd(nfd))
		ml_control_fd_lost(nfd);
	int rc = real_fn(fd, nfd);
	if (rc >= 0 && fd != nfd && ML_ACTIVE())
		ml_fd_copy(fd, nfd);
	return rc;
}

ML_EXPORT int dup3(int fd, int nfd, int flags)
{
	REAL(dup3_fn, "dup3");
	if (ML_ACTIVE() && ml_is_control_fd(nfd))
		ml_control_fd_lost(nfd);
	int rc = real_fn(fd, nfd, flags);
	if (rc >= 0 && ML_ACTIVE())
		ml_fd_copy(fd, nfd);
	return rc;
}
