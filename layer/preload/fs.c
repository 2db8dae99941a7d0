/*
 * File hooks. A path the fast rules keep local goes straight to libc.
 * Otherwise the intproxy decides: local, an errno (not_found, missing remote
 * file), or a memfd holding the remote file's content, passed over the
 * control socket with SCM_RIGHTS. read/lseek/fstat/mmap on that fd need no
 * hooks. A file opened for writing in a read_write path carries a token: when
 * its last fd closes (or the process exits) the intproxy writes the memfd's
 * content back to the target.
 */
#include "layer.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#ifndef O_TMPFILE
#define O_TMPFILE (020000000 | O_DIRECTORY)
#endif

typedef int (*open_fn)(const char *, int, ...);
typedef int (*openat_fn)(int, const char *, int, ...);
typedef int (*open2_fn)(const char *, int);
typedef int (*openat2_fn)(int, const char *, int);
typedef FILE *(*fopen_fn)(const char *, const char *);
typedef int (*stat_fn)(const char *, void *);
typedef int (*fstatat_fn)(int, const char *, void *, int);
typedef int (*xstat_fn)(int, const char *, struct stat *);
typedef int (*fxstatat_fn)(int, int, const char *, struct stat *, int);
typedef int (*statx_fn)(int, const char *, int, unsigned int, struct statx *);
typedef int (*access_fn)(const char *, int);
typedef int (*faccessat_fn)(int, const char *, int, int);
typedef ssize_t (*readlink_fn)(const char *, char *, size_t);
typedef ssize_t (*readlinkat_fn)(int, const char *, char *, size_t);

/* remote_wanted: is this path something to ask the intproxy about? */
static int remote_wanted(int dirfd, const char *path)
{
	if (!ML_ACTIVE() || !path || path[0] != '/')
		return 0;
	(void)dirfd; /* absolute paths ignore dirfd */
	return !ml_path_is_local(path);
}

/* open_remote returns 1 when the call must go to libc, else 0 with *out set
 * (an fd, or -1 with errno). */
static int open_remote(const char *path, int flags, mode_t mode, int *out)
{
	size_t n = strlen(path);
	if (n > 4096)
		return 1;
	uint8_t mem[4200], in[64];
	struct ml_buf b;
	struct ml_resp r;
	mb_init(&b, mem, sizeof mem, ML_OP_OPEN);
	mb_u32(&b, (uint32_t)flags);
	mb_u32(&b, (uint32_t)mode);
	mb_bytes(&b, path, n);
	ml_guard++;
	int rc = ml_call(&b, in, sizeof in, &r, (flags & O_CLOEXEC) != 0);
	ml_guard--;
	if (rc < 0)
		return 1;
	if (r.status == ML_ST_LOCAL) {
		if (r.fd >= 0)
			close(r.fd);
		return 1;
	}
	if (r.status != ML_ST_OK) {
		if (r.fd >= 0)
			close(r.fd);
		*out = -1;
		errno = r.status == ML_ST_ERRNO ? ml_resp_errno(&r) : EIO;
		return 0;
	}
	uint64_t token = mr_u64(&r);
	if (r.fd < 0) {
		*out = -1;
		errno = EIO;
		return 0;
	}
	ml_fd_fresh(r.fd);
	if (token) {
		int idx = ml_obj_new(ML_OBJ_FILE);
		struct ml_fd *e = ml_fd_get(r.fd);
		if (idx && e) {
			ml_obj_get(idx)->token = token;
			e->kind = ML_FD_FILE;
			e->obj = (uint16_t)idx;
		} else if (idx) {
			ml_obj_unref(idx);
		}
	}
	*out = r.fd;
	return 0;
}

static mode_t va_mode(int flags, va_list ap)
{
	if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE)
		return (mode_t)va_arg(ap, int);
	return 0;
}

static int fresh(int fd)
{
	if (fd >= 0 && ML_ACTIVE())
		ml_fd_fresh(fd);
	return fd;
}

#define OPEN_HOOK(name)                                                        \
	ML_EXPORT int name(const char *path, int flags, ...)                   \
	{                                                                      \
		va_list ap;                                                    \
		va_start(ap, flags);                                           \
		mode_t mode = va_mode(flags, ap);                              \
		va_end(ap);                                                    \
		REAL(open_fn, #name);                                          \
		int fd;                                                        \
		if (remote_wanted(AT_FDCWD, path) && open_remote(path, flags, mode, &fd) == 0) \
			return fd;                                             \
		return fresh(real_fn(path, flags, mode));                      \
	}
OPEN_HOOK(open)
OPEN_HOOK(open64)

#define OPENAT_HOOK(name)                                                      \
	ML_EXPORT int name(int dirfd, const char *path, int flags, ...)        \
	{                                                                      \
		va_list ap;                                                    \
		va_start(ap, flags);                                           \
		mode_t mode = va_mode(flags, ap);                              \
		va_end(ap);                                                    \
		REAL(openat_fn, #name);                                        \
		int fd;                                                        \
		if (remote_wanted(dirfd, path) && open_remote(path, flags, mode, &fd) == 0) \
			return fd;                                             \
		return fresh(real_fn(dirfd, path, flags, mode));               \
	}
OPENAT_HOOK(openat)
OPENAT_HOOK(openat64)

/* The _FORTIFY_SOURCE entry points (no mode argument). */
#define OPEN2_HOOK(name)                                                       \
	ML_EXPORT int name(const char *path, int flags)                        \
	{                                                                      \
		REAL(open2_fn, #name);                                         \
		int fd;                                                        \
		if (remote_wanted(AT_FDCWD, path) && open_remote(path, flags, 0, &fd) == 0) \
			return fd;                                             \
		return fresh(real_fn(path, flags));                            \
	}
OPEN2_HOOK(__open_2)
OPEN2_HOOK(__open64_2)

#define OPENAT2_HOOK(name)                                                     \
	ML_EXPORT int name(int dirfd, const char *path, int flags)             \
	{                                                                      \
		REAL(openat2_fn, #name);                                       \
		int fd;                                                        \
		if (remote_wanted(dirfd, path) && open_remote(path, flags, 0, &fd) == 0) \
			return fd;                                             \
		return fresh(real_fn(dirfd, path, flags));                     \
	}
OPENAT2_HOOK(__openat_2)
OPENAT2_HOOK(__openat64_2)

/* fopen_flags converts an fopen mode to open flags; -1 if invalid. */
static int fopen_flags(const char *m, char *fdmode, size_t cap)
{
	int flags;
	switch (m[0]) {
	case 'r':
		flags = O_RDONLY;
		break;
	case 'w':
		flags = O_WRONLY | O_CREAT | O_TRUNC;
		break;
	case 'a':
		flags = O_WRONLY | O_CREAT | O_APPEND;
		break;
	default:
		return -1;
	}
	size_t k = 0;
	fdmode[k++] = m[0];
	for (const char *p = m + 1; *p && p < m + 8; p++) {
		if (*p == '+')
			flags = (flags & ~O_ACCMODE) | O_RDWR;
		else if (*p == 'e')
			flags |= O_CLOEXEC;
		else if (*p == 'x')
			flags |= O_EXCL;
		if (*p != 'x' && k + 1 < cap)
			fdmode[k++] = *p;
	}
	fdmode[k] = 0;
	return flags;
}

#define FOPEN_HOOK(name)                                                       \
	ML_EXPORT FILE *name(const char *path, const char *mode)               \
	{                                                                      \
		REAL(fopen_fn, #name);                                         \
		char fdmode[16];                                               \
		int flags, fd;                                                 \
		if (mode && remote_wanted(AT_FDCWD, path) &&                  \
		    (flags = fopen_flags(mode, fdmode, sizeof fdmode)) >= 0 &&  \
		    open_remote(path, flags, 0666, &fd) == 0) {                 \
			if (fd < 0)                                            \
				return NULL;                                   \
			FILE *f = fdopen(fd, fdmode);                          \
			if (!f) {                                              \
				int e = errno;                                 \
				close(fd);                                     \
				errno = e;                                     \
			}                                                      \
			return f;                                              \
		}                                                              \
		FILE *f = real_fn(path, mode);                                 \
		if (f)                                                         \
			fresh(fileno(f));                                      \
		return f;                                                      \
	}
FOPEN_HOOK(fopen)
FOPEN_HOOK(fopen64)

/* ---- stat family ------------------------------------------------------ */

struct rstat {
	uint64_t dev, ino, nlink, rdev;
	uint32_t mode, uid, gid;
	int64_t size, blksize, blocks, atime, mtime, ctime; /* times in ns */
};

/* stat_remote returns 1 for local, 0 with *st filled, or -1 with errno. */
static int stat_remote(const char *path, int follow, struct rstat *st)
{
	size_t n = strlen(path);
	if (n > 4096)
		return 1;
	uint8_t mem[4200], in[256];
	struct ml_buf b;
	struct ml_resp r;
	mb_init(&b, mem, sizeof mem, ML_OP_STAT);
	mb_u8(&b, follow ? 1 : 0);
	mb_bytes(&b, path, n);
	ml_guard++;
	int rc = ml_call(&b, in, sizeof in, &r, 1);
	ml_guard--;
	int out = ml_outcome(rc, &r);
	if (out != 0)
		return out;
	st->dev = mr_u64(&r);
	st->ino = mr_u64(&r);
	st->mode = mr_u32(&r);
	st->nlink = mr_u64(&r);
	st->uid = mr_u32(&r);
	st->gid = mr_u32(&r);
	st->rdev = mr_u64(&r);
	st->size = mr_i64(&r);
	st->blksize = mr_i64(&r);
	st->blocks = mr_i64(&r);
	st->atime = mr_i64(&r);
	st->mtime = mr_i64(&r);
	st->ctime = mr_i64(&r);
	if (r.bad) {
		errno = EIO;
		return -1;
	}
	return 0;
}

static void fill_stat(const struct rstat *s, struct stat *out)
{
	memset(out, 0, sizeof *out);
	out->st_dev = s->dev;
	out->st_ino = s->ino;
	out->st_mode = s->mode;
	out->st_nlink = s->nlink;
	out->st_uid = s->uid;
	out->st_gid = s->gid;
	out->st_rdev = s->rdev;
	out->st_size = s->size;
	out->st_blksize = s->blksize;
	out->st_blocks = s->blocks;
	out->st_atim.tv_sec = s->atime / 1000000000;
	out->st_atim.tv_nsec = s->atime % 1000000000;
	out->st_mtim.tv_sec = s->mtime / 1000000000;
	out->st_mtim.tv_nsec = s->mtime % 1000000000;
	out->st_ctim.tv_sec = s->ctime / 1000000000;
	out->st_ctim.tv_nsec = s->ctime % 1000000000;
}

/* do_stat: 1 = go local, else the hook's return value. */
static int do_stat(int dirfd, const char *path, int follow, struct stat *buf)
{
	if (!remote_wanted(dirfd, path) || !buf)
		return 1;
	struct rstat s;
	int rc = stat_remote(path, follow, &s);
	if (rc == 1)
		return 1;
	if (rc < 0)
		return -1;
	fill_stat(&s, buf);
	return 0;
}

/* struct stat64 has the layout of struct stat on x86_64 and aarch64. */
_Static_assert(sizeof(struct stat) == sizeof(struct stat64), "stat64 layout");

#define STAT_HOOK(name, follow, type)                                          \
	ML_EXPORT int name(const char *path, type *buf)                        \
	{                                                                      \
		REAL(stat_fn, #name);                                          \
		int rc = do_stat(AT_FDCWD, path, follow, (struct stat *)buf);  \
		return rc == 1 ? real_fn(path, buf) : rc;                      \
	}
STAT_HOOK(stat, 1, struct stat)
STAT_HOOK(stat64, 1, struct stat64)
STAT_HOOK(lstat, 0, struct stat)
STAT_HOOK(lstat64, 0, struct stat64)

#define FSTATAT_HOOK(name, type)                                               \
	ML_EXPORT int name(int dirfd, const char *path, type *buf, int flags)  \
	{                                                                      \
		REAL(fstatat_fn, #name);                                       \
		int rc = (flags & AT_EMPTY_PATH) && path && !path[0]           \
				 ? 1                                           \
				 : do_stat(dirfd, path, !(flags & AT_SYMLINK_NOFOLLOW), (struct stat *)buf); \
		return rc == 1 ? real_fn(dirfd, path, buf, flags) : rc;        \
	}
FSTATAT_HOOK(fstatat, struct stat)
FSTATAT_HOOK(fstatat64, struct stat64)

#define XSTAT_HOOK(name, follow)                                               \
	ML_EXPORT int name(int ver, const char *path, struct stat *buf)        \
	{                                                                      \
		REAL(xstat_fn, #name);                                         \
		int rc = do_stat(AT_FDCWD, path, follow, buf);                 \
		return rc == 1 ? real_fn(ver, path, buf) : rc;                 \
	}
XSTAT_HOOK(__xstat, 1)
XSTAT_HOOK(__xstat64, 1)
XSTAT_HOOK(__lxstat, 0)
XSTAT_HOOK(__lxstat64, 0)

#define FXSTATAT_HOOK(name)                                                    \
	ML_EXPORT int name(int ver, int dirfd, const char *path, struct stat *buf, int flags) \
	{                                                                      \
		REAL(fxstatat_fn, #name);                                      \
		int rc = (flags & AT_EMPTY_PATH) && path && !path[0]           \
				 ? 1                                           \
				 : do_stat(dirfd, path, !(flags & AT_SYMLINK_NOFOLLOW), buf); \
		return rc == 1 ? real_fn(ver, dirfd, path, buf, flags) : rc;   \
	}
FXSTATAT_HOOK(__fxstatat)
FXSTATAT_HOOK(__fxstatat64)

ML_EXPORT int statx(int dirfd, const char *path, int flags, unsigned int mask, struct statx *buf)
{
	REAL(statx_fn, "statx");
	if (!buf || ((flags & AT_EMPTY_PATH) && path && !path[0]) || !remote_wanted(dirfd, path))
		return real_fn(dirfd, path, flags, mask, buf);
	struct rstat s;
	int rc = stat_remote(path, !(flags & AT_SYMLINK_NOFOLLOW), &s);
	if (rc == 1)
		return real_fn(dirfd, path, flags, mask, buf);
	if (rc < 0)
		return -1;
	memset(buf, 0, sizeof *buf);
	buf->stx_mask = STATX_BASIC_STATS;
	buf->stx_blksize = (uint32_t)s.blksize;
	buf->stx_nlink = (uint32_t)s.nlink;
	buf->stx_uid = s.uid;
	buf->stx_gid = s.gid;
	buf->stx_mode = (uint16_t)s.mode;
	buf->stx_ino = s.ino;
	buf->stx_size = (uint64_t)s.size;
	buf->stx_blocks = (uint64_t)s.blocks;
	buf->stx_atime.tv_sec = s.atime / 1000000000;
	buf->stx_atime.tv_nsec = (uint32_t)(s.atime % 1000000000);
	buf->stx_mtime.tv_sec = s.mtime / 1000000000;
	buf->stx_mtime.tv_nsec = (uint32_t)(s.mtime % 1000000000);
	buf->stx_ctime.tv_sec = s.ctime / 1000000000;
	buf->stx_ctime.tv_nsec = (uint32_t)(s.ctime % 1000000000);
	buf->stx_rdev_major = major(s.rdev);
	buf->stx_rdev_minor = minor(s.rdev);
	buf->stx_dev_major = major(s.dev);
	buf->stx_dev_minor = minor(s.dev);
	return 0;
}

/* ---- access, readlink ------------------------------------------------- */

static int access_remote(const char *path, int mode)
{
	size_t n = strlen(path);
	if (n > 4096)
		return 1;
	uint8_t mem[4200], in[64];
	struct ml_buf b;
	struct ml_resp r;
	mb_init(&b, mem, sizeof mem, ML_OP_ACCESS);
	mb_u32(&b, (uint32_t)mode);
	mb_bytes(&b, path, n);
	ml_guard++;
	int rc = ml_call(&b, in, sizeof in, &r, 1);
	ml_guard--;
	return ml_outcome(rc, &r);
}

ML_EXPORT int access(const char *path, int mode)
{
	REAL(access_fn, "access");
	if (!remote_wanted(AT_FDCWD, path))
		return real_fn(path, mode);
	int rc = access_remote(path, mode);
	return rc == 1 ? real_fn(path, mode) : rc;
}

ML_EXPORT int faccessat(int dirfd, const char *path, int mode, int flags)
{
	REAL(faccessat_fn, "faccessat");
	if (!remote_wanted(dirfd, path))
		return real_fn(dirfd, path, mode, flags);
	int rc = access_remote(path, mode);
	return rc == 1 ? real_fn(dirfd, path, mode, flags) : rc;
}

static ssize_t readlink_remote(const char *path, char *buf, size_t size)
{
	size_t n = strlen(path);
	if (n > 4096)
		return -2;
	uint8_t mem[4200], in[4200];
	struct ml_buf b;
	struct ml_resp r;
	mb_init(&b, mem, sizeof mem, ML_OP_READLINK);
	mb_bytes(&b, path, n);
	ml_guard++;
	int rc = ml_call(&b, in, sizeof in, &r, 1);
	ml_guard--;
	int out = ml_outcome(rc, &r);
	if (out != 0)
		return out == 1 ? -2 : -1; /* -2: local */
	char target[4097];
	int len = mr_str(&r, target, sizeof target);
	if (len < 0) {
		errno = EIO;
		return -1;
	}
	size_t k = (size_t)len < size ? (size_t)len : size;
	memcpy(buf, target, k);
	return (ssize_t)k;
}

ML_EXPORT ssize_t readlink(const char *path, char *buf, size_t size)
{
	REAL(readlink_fn, "readlink");
	if (!remote_wanted(AT_FDCWD, path) || !buf)
		return real_fn(path, buf, size);
	ssize_t rc = readlink_remote(path, buf, size);
	return rc == -2 ? real_fn(path, buf, size) : rc;
}

ML_EXPORT ssize_t readlinkat(int dirfd, const char *path, char *buf, size_t size)
{
	REAL(readlinkat_fn, "readlinkat");
	if (!remote_wanted(dirfd, path) || !buf)
		return real_fn(dirfd, path, buf, size);
	ssize_t rc = readlink_remote(path, buf, size);
	return rc == -2 ? real_fn(dirfd, path, buf, size) : rc;
}

/* ---- directories -------------------------------------------------------- */

typedef DIR *(*opendir_fn)(const char *);

/* opendir of a remote directory reads a local snapshot of its entries (the
 * intproxy passes a directory fd); readdir/closedir need no hooks. */
ML_EXPORT DIR *opendir(const char *path)
{
	REAL(opendir_fn, "opendir");
	int fd;
	if (remote_wanted(AT_FDCWD, path) && open_remote(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, &fd) == 0) {
		if (fd < 0)
			return NULL;
		DIR *d = fdopendir(fd);
		if (!d) {
			int e = errno;
			close(fd);
			errno = e;
		}
		return d;
	}
	return real_fn(path);
}

typedef int (*fclose_fn)(FILE *);

/* fclose closes the fd inside libc (no close hook runs): end the fd's
 * bookkeeping here, so a written remote file is written back now. */
ML_EXPORT int fclose(FILE *f)
{
	REAL(fclose_fn, "fclose");
	int fd = -1;
	if (f && ML_ACTIVE()) {
		fd = fileno(f);
		struct ml_fd *e = ml_fd_get(fd);
		if (!e || e->kind == ML_FD_NONE)
			fd = -1;
	}
	int rc = real_fn(f);
	if (fd >= 0) {
		int saved = errno;
		ml_fd_clear(fd);
		errno = saved;
	}
	return rc;
}

/* ---- mkdir, unlink, rmdir, rename ---------------------------------------- */

/* path_op returns 1 for local, else the hook's result (0, or -1 with errno). */
static int path_op(uint8_t kind, const char *a, const char *b, mode_t mode)
{
	size_t na = strlen(a), nb = b ? strlen(b) : 0;
	if (na > 4096 || nb > 4096)
		return 1;
	uint8_t mem[8300], in[64];
	struct ml_buf bu;
	struct ml_resp r;
	mb_init(&bu, mem, sizeof mem, ML_OP_PATH);
	mb_u8(&bu, kind);
	mb_u32(&bu, (uint32_t)mode);
	mb_bytes(&bu, a, na);
	mb_bytes(&bu, b ? b : "", nb);
	ml_guard++;
	int rc = ml_call(&bu, in, sizeof in, &r, 1);
	ml_guard--;
	return ml_outcome(rc, &r);
}

typedef int (*mkdir_fn)(const char *, mode_t);
typedef int (*mkdirat_fn)(int, const char *, mode_t);
typedef int (*unlink_fn)(const char *);
typedef int (*unlinkat_fn)(int, const char *, int);
typedef int (*rename_fn)(const char *, const char *);
typedef int (*renameat_fn)(int, const char *, int, const char *);

ML_EXPORT int mkdir(const char *path, mode_t mode)
{
	REAL(mkdir_fn, "mkdir");
	int rc = remote_wanted(AT_FDCWD, path) ? path_op(ML_PATH_MKDIR, path, NULL, mode) : 1;
	return rc == 1 ? real_fn(path, mode) : rc;
}

ML_EXPORT int mkdirat(int dirfd, const char *path, mode_t mode)
{
	REAL(mkdirat_fn, "mkdirat");
	int rc = remote_wanted(dirfd, path) ? path_op(ML_PATH_MKDIR, path, NULL, mode) : 1;
	return rc == 1 ? real_fn(dirfd, path, mode) : rc;
}

ML_EXPORT int unlink(const char *path)
{
	REAL(unlink_fn, "unlink");
	int rc = remote_wanted(AT_FDCWD, path) ? path_op(ML_PATH_UNLINK, path, NULL, 0) : 1;
	return rc == 1 ? real_fn(path) : rc;
}

ML_EXPORT int rmdir(const char *path)
{
	REAL(unlink_fn, "rmdir");
	int rc = remote_wanted(AT_FDCWD, path) ? path_op(ML_PATH_RMDIR, path, NULL, 0) : 1;
	return rc == 1 ? real_fn(path) : rc;
}

ML_EXPORT int unlinkat(int dirfd, const char *path, int flags)
{
	REAL(unlinkat_fn, "unlinkat");
	int rc = remote_wanted(dirfd, path)
			 ? path_op((flags & AT_REMOVEDIR) ? ML_PATH_RMDIR : ML_PATH_UNLINK, path, NULL, 0)
			 : 1;
	return rc == 1 ? real_fn(dirfd, path, flags) : rc;
}

/* rename asks when either path would be remote: the intproxy answers EXDEV
 * for a move between a local and a remote path, as across filesystems. */
ML_EXPORT int rename(const char *from, const char *to)
{
	REAL(rename_fn, "rename");
	int rc = (remote_wanted(AT_FDCWD, from) || remote_wanted(AT_FDCWD, to)) && from && to
		     ? path_op(ML_PATH_RENAME, from, to, 0)
		     : 1;
	return rc == 1 ? real_fn(from, to) : rc;
}

ML_EXPORT int renameat(int fromfd, const char *from, int tofd, const char *to)
{
	REAL(renameat_fn, "renameat");
	int rc = (remote_wanted(fromfd, from) || remote_wanted(tofd, to)) && from && to
		     ? path_op(ML_PATH_RENAME, from, to, 0)
		     : 1;
	return rc == 1 ? real_fn(fromfd, from, tofd, to) : rc;
}

typedef int (*renameat2_fn)(int, const char *, int, const char *, unsigned int);

/* renameat2 (mv uses it with RENAME_NOREPLACE): a remote rename ignores the
 * flags (the agent's rename has none). */
ML_EXPORT int renameat2(int fromfd, const char *from, int tofd, const char *to, unsigned int flags)
{
	REAL(renameat2_fn, "renameat2");
	int rc = (remote_wanted(fromfd, from) || remote_wanted(tofd, to)) && from && to
		     ? path_op(ML_PATH_RENAME, from, to, 0)
		     : 1;
	return rc == 1 ? real_fn(fromfd, from, tofd, to, flags) : rc;
}
