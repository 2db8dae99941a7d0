/*
 * libmirrord_layer: the LD_PRELOAD half of mirrord-ls.
 *
 * The library interposes a few libc entry points and asks the Go intproxy
 * (over a unix socket named by MIRRORD_LAYER_INTPROXY_ADDR) what to do with
 * every call it cannot decide locally. The wire format is documented in
 * layer/wire/wire.go and docs/layer.md; this header keeps the C side's copy
 * of the constants in step with it.
 *
 * Rules every hook follows:
 *   - pass straight to libc when the thread is already inside the layer
 *     (ml_guard), when the layer is not active, or when the call can be
 *     decided locally;
 *   - never allocate on the decision path (stack buffers only), so hooks are
 *     safe between fork and exec;
 *   - never block forever: the control socket has send/receive timeouts, and
 *     a dead intproxy makes decisions fall back to local.
 */
#ifndef MIRRORD_LAYER_H
#define MIRRORD_LAYER_H

#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#define ML_EXPORT __attribute__((visibility("default")))
#define ML_HIDDEN __attribute__((visibility("hidden")))

/* Wire: request ops (layer/wire/wire.go Op*). */
enum {
	ML_OP_HELLO = 1,
	ML_OP_OPEN = 2,
	ML_OP_STAT = 3,
	ML_OP_ACCESS = 4,
	ML_OP_READLINK = 5,
	ML_OP_DNS = 6,
	ML_OP_CONNECT = 7,
	ML_OP_BIND = 8,
	ML_OP_LISTEN = 9,
	ML_OP_UNLISTEN = 10,
	ML_OP_ACCEPTED = 11,
	ML_OP_CLOSE_FILE = 12,
	ML_OP_PATH = 13,
};

/* Wire: path operations of ML_OP_PATH. */
enum { ML_PATH_MKDIR = 1, ML_PATH_UNLINK = 2, ML_PATH_RMDIR = 3, ML_PATH_RENAME = 4 };

/* Wire: response status. */
enum {
	ML_ST_OK = 0,    /* handled by mirrord; body depends on the op */
	ML_ST_LOCAL = 1, /* do the real libc call */
	ML_ST_ERRNO = 2, /* fail with errno (i32 in the body) */
	ML_ST_EAI = 3,   /* getaddrinfo error (i32 in the body) */
};

/* Wire: session flags in the HELLO answer. */
enum {
	ML_F_SKIP = 1u << 0,
	ML_F_FS = 1u << 1,
	ML_F_FS_FAST = 1u << 2,
	ML_F_OUT_TCP = 1u << 3,
	ML_F_OUT_UDP = 1u << 4,
	ML_F_IGNORE_LOCALHOST = 1u << 5,
	ML_F_DNS = 1u << 6,
	ML_F_INCOMING = 1u << 7,
	ML_F_UNIX_REMOTE = 1u << 8,
};

/* Wire: path rule kinds and actions in the HELLO answer. */
enum { ML_RULE_PREFIX = 1, ML_RULE_SUFFIX = 2, ML_RULE_CONTAINS = 3, ML_RULE_EXACT = 4 };
enum { ML_ACT_LOCAL = 1, ML_ACT_ASK = 2 };

/* Wire: address families. */
enum { ML_FAM_UNIX = 1, ML_FAM_V4 = 4, ML_FAM_V6 = 6 };
/* Wire: connect protocols. */
enum { ML_PROTO_TCP = 1, ML_PROTO_UDP = 2, ML_PROTO_UNIX = 3 };

/* An internet address as the wire carries it. */
struct ml_addr {
	uint8_t fam;  /* ML_FAM_V4 / ML_FAM_V6, 0 if unset */
	uint16_t port; /* host order */
	uint8_t ip[16]; /* v4 in the first 4 bytes */
};

/* Layer state. */
enum { ML_STATE_OFF = 0, ML_STATE_ON = 1 };
extern int ml_state;
extern uint32_t ml_flags;

/* Re-entrancy guard: non-zero while this thread runs layer code. */
extern __thread int ml_guard __attribute__((tls_model("initial-exec")));

#define ML_ACTIVE() (ml_state == ML_STATE_ON && ml_guard == 0)

/* Real libc symbols. */
void *ml_real(const char *name);
#define REAL(type, name)                                                       \
	static type real_fn;                                                   \
	if (!real_fn)                                                          \
		real_fn = (type)ml_real(name);

/* Message building. */
struct ml_buf {
	uint8_t *p;
	size_t len, cap;
	int overflow;
};
void mb_init(struct ml_buf *b, uint8_t *mem, size_t cap, uint8_t op);
void mb_u8(struct ml_buf *b, uint8_t v);
void mb_u16(struct ml_buf *b, uint16_t v);
void mb_u32(struct ml_buf *b, uint32_t v);
void mb_u64(struct ml_buf *b, uint64_t v);
void mb_str(struct ml_buf *b, const char *s);
void mb_bytes(struct ml_buf *b, const void *s, size_t n);
void mb_addr(struct ml_buf *b, const struct ml_addr *a);

/* Response reading. */
struct ml_resp {
	int32_t status;
	const uint8_t *p; /* body */
	size_t len, off;
	int fd; /* passed with SCM_RIGHTS, -1 if none */
	int bad;
};
uint8_t mr_u8(struct ml_resp *r);
uint16_t mr_u16(struct ml_resp *r);
uint32_t mr_u32(struct ml_resp *r);
uint64_t mr_u64(struct ml_resp *r);
int32_t mr_i32(struct ml_resp *r);
int64_t mr_i64(struct ml_resp *r);
/* mr_str copies a u16-length string into out (NUL-terminated); returns its length or -1. */
int mr_str(struct ml_resp *r, char *out, size_t cap);
void mr_addr(struct ml_resp *r, struct ml_addr *a);

/*
 * ml_call sends the request in b and reads the answer into mem. It returns 0
 * with r filled, or -1 when the intproxy cannot be reached or answered badly
 * (the caller then falls back to local). cloexec decides the close-on-exec
 * flag of a passed fd.
 */
int ml_call(struct ml_buf *b, uint8_t *mem, size_t cap, struct ml_resp *r, int cloexec);

/* Errno of an ML_ST_ERRNO answer. */
int ml_resp_errno(struct ml_resp *r);

/*
 * Outcome of an ml_call for hooks whose answer is "local", "failed with an
 * errno" or "done": 1 means do the real libc call (no intproxy, or it said
 * local), -1 means fail with errno (set here; EIO for an unexpected status),
 * 0 means handled (the body follows in r).
 */
int ml_outcome(int rc, struct ml_resp *r);

/* Address conversion. */
int ml_from_sockaddr(const struct sockaddr *sa, socklen_t len, struct ml_addr *a);
socklen_t ml_to_sockaddr(const struct ml_addr *a, int family, struct sockaddr_storage *ss);
void ml_copy_sockaddr_out(const struct sockaddr_storage *ss, socklen_t sslen, struct sockaddr *out,
			  socklen_t *outlen);

/* Per-fd state. */
enum { ML_FD_NONE = 0, ML_FD_SOCK, ML_FD_OUTGOING, ML_FD_LISTENER, ML_FD_ACCEPTED, ML_FD_FILE };
struct ml_fd {
	uint8_t kind;
	uint8_t socktype; /* SOCK_STREAM / SOCK_DGRAM, 0 unknown */
	uint8_t family;   /* AF_INET / AF_INET6 of the socket, 0 unknown */
	uint16_t obj;     /* 1-based index into the object table (listener, file) */
	struct ml_addr peer; /* what getpeername reports */
	struct ml_addr icpt; /* the interceptor an outgoing socket connects to */
};
#define ML_MAXFD 65536
struct ml_fd *ml_fd_get(int fd); /* NULL when out of range */
void ml_fd_clear(int fd);
void ml_fd_copy(int from, int to);

/* Objects shared by dup'ed fds: listeners and remote files. */
enum { ML_OBJ_FREE = 0, ML_OBJ_LISTENER, ML_OBJ_FILE };
struct ml_obj {
	uint8_t type;
	uint8_t subscribed; /* the intproxy subscribed the port */
	uint8_t reported;   /* the intproxy knows the listener */
	int refs;
	pid_t owner;
	uint16_t req_port, act_port;
	uint64_t token;
};
int ml_obj_new(uint8_t type); /* 1-based index, 0 when full */
struct ml_obj *ml_obj_get(int idx);
/* ml_obj_unref drops a reference and returns 1 when it was the last. */
int ml_obj_unref(int idx);
void ml_obj_ref(int idx);

/* Control fds must survive the app's close/dup2 storms. */
int ml_is_control_fd(int fd);
void ml_control_fd_lost(int fd);

pid_t ml_getpid(void);
/* ml_self_pid is the process whose memory this is (differs in a vfork child). */
extern pid_t ml_self_pid;
/* ml_fd_fresh forgets stale state of an fd number the kernel just reused. */
void ml_fd_fresh(int fd);

/* Path classification for the fast local bypass. */
int ml_path_is_local(const char *path);

/* One-time warnings to stderr. */
void ml_warn(const char *msg);

/*
 * The seccomp supervisor (supervise.c, elfcheck.c). ml_needs_supervisor
 * says whether a program escapes LD_PRELOAD (static or Go; raw syscalls,
 * safe in a vfork child). ml_sv_resolve looks up the real exec functions.
 * ml_sv_start, first in the constructor, returns 1 when the layer must stay
 * inert: the process runs under a supervisor (marked, or attached now).
 */
int ml_needs_supervisor(const char *path);
void ml_sv_resolve(void);
int ml_sv_start(char **envp);
extern int ml_sv_inert;

#endif
