/*
 * ml_needs_supervisor: does a program escape LD_PRELOAD?
 *
 * A static ELF (no PT_INTERP: no dynamic loader, so no preloaded library)
 * and a Go program (a `.go.buildinfo` section: Go makes its system calls
 * without libc, also when dynamically linked) do; they are handed to the
 * seccomp supervisor (supervise.c, docs/layer.md).
 *
 * The check runs in exec hooks, possibly in a vfork child, and in the
 * constructor: raw system calls, stack buffers, bounded reads, no malloc.
 * Only x86-64 ELF64 little-endian programs are answered "yes"; a file that
 * cannot be read, is not such an ELF or is malformed is "no". This file
 * depends on nothing else in the layer, so a test driver can link it alone
 * (layer/e2e/testdata/elfcheck.c).
 */
#include "layer.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define EC_MAX_PHDRS 1024 /* more program headers than this: malformed */
#define EC_MAX_SHDRS 4096 /* sections looked at, at most */
#define EC_CHUNK 16       /* headers read per system call */
#define EC_NAMES 2048     /* section-name bytes read at once; the rest per name */

static const char go_buildinfo[] = ".go.buildinfo"; /* sizeof: 14, with the NUL */

/* read_at reads exactly n bytes at off, which must lie inside the file. */
static int read_at(int fd, void *buf, size_t n, uint64_t off, uint64_t fsize)
{
	if (off > fsize || n > fsize - off)
		return -1;
	uint8_t *p = buf;
	while (n > 0) {
		long r = syscall(SYS_pread64, fd, p, n, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
		off += (uint64_t)r;
	}
	return 0;
}

/* has_interp reports 1 when the program headers hold a PT_INTERP, 0 when
 * they hold none but a PT_LOAD (a static program), -1 when the headers are
 * missing, malformed or load nothing (execve would fail: leave it alone). */
static int has_interp(int fd, const Elf64_Ehdr *eh, uint64_t fsize)
{
	if (eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phnum == 0 || eh->e_phnum > EC_MAX_PHDRS ||
	    eh->e_phoff > fsize)
		return -1;
	Elf64_Phdr ph[EC_CHUNK];
	int load = 0;
	for (unsigned i = 0; i < eh->e_phnum; i += EC_CHUNK) {
		unsigned n = eh->e_phnum - i < EC_CHUNK ? eh->e_phnum - i : EC_CHUNK;
		if (read_at(fd, ph, n * sizeof ph[0], eh->e_phoff + (uint64_t)i * sizeof ph[0], fsize) < 0)
			return -1;
		for (unsigned k = 0; k < n; k++) {
			if (ph[k].p_type == PT_INTERP)
				return 1;
			if (ph[k].p_type == PT_LOAD)
				load = 1;
		}
	}
	return load ? 0 : -1;
}

/* read_shdr reads section header i. */
static int read_shdr(int fd, const Elf64_Ehdr *eh, uint64_t i, Elf64_Shdr *sh, uint64_t fsize)
{
	return read_at(fd, sh, sizeof *sh, eh->e_shoff + i * sizeof *sh, fsize);
}

/* has_go_buildinfo reports whether a section is named .go.buildinfo. */
static int has_go_buildinfo(int fd, const Elf64_Ehdr *eh, uint64_t fsize)
{
	if (eh->e_shoff == 0 || eh->e_shentsize != sizeof(Elf64_Shdr) || eh->e_shoff > fsize)
		return 0;
	uint64_t shnum = eh->e_shnum;
	uint64_t strndx = eh->e_shstrndx;
	if (shnum == 0 || strndx == SHN_XINDEX) {
		/* extended numbering: the real values are in section 0 */
		Elf64_Shdr s0;
		if (read_shdr(fd, eh, 0, &s0, fsize) < 0)
			return 0;
		if (shnum == 0)
			shnum = s0.sh_size;
		if (strndx == SHN_XINDEX)
			strndx = s0.sh_link;
	}
	if (shnum > EC_MAX_SHDRS)
		shnum = EC_MAX_SHDRS;
	if (strndx == SHN_UNDEF || strndx >= shnum)
		return 0;
	Elf64_Shdr strsh;
	if (read_shdr(fd, eh, strndx, &strsh, fsize) < 0)
		return 0;
	uint64_t stroff = strsh.sh_offset, strsz = strsh.sh_size;
	if (stroff > fsize || strsz > fsize - stroff || strsz < sizeof go_buildinfo)
		return 0;
	char names[EC_NAMES];
	size_t have = strsz < sizeof names ? (size_t)strsz : sizeof names;
	if (read_at(fd, names, have, stroff, fsize) < 0)
		return 0;
	Elf64_Shdr sh[EC_CHUNK];
	for (uint64_t i = 0; i < shnum; i += EC_CHUNK) {
		uint64_t n = shnum - i < EC_CHUNK ? shnum - i : EC_CHUNK;
		if (read_at(fd, sh, (size_t)n * sizeof sh[0], eh->e_shoff + i * sizeof sh[0], fsize) < 0)
			return 0;
		for (uint64_t k = 0; k < n; k++) {
			uint64_t off = sh[k].sh_name;
			if (off > strsz - sizeof go_buildinfo)
				continue;
			char one[sizeof go_buildinfo];
			const char *name;
			if (off + sizeof go_buildinfo <= have) {
				name = names + off;
			} else {
				if (read_at(fd, one, sizeof one, stroff + off, fsize) < 0)
					return 0;
				name = one;
			}
			if (memcmp(name, go_buildinfo, sizeof go_buildinfo) == 0)
				return 1;
		}
	}
	return 0;
}

static int elf_check(int fd, uint64_t fsize)
{
	Elf64_Ehdr eh;
	if (read_at(fd, &eh, sizeof eh, 0, fsize) < 0)
		return 0;
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_machine != EM_X86_64 ||
	    (eh.e_type != ET_EXEC && eh.e_type != ET_DYN))
		return 0;
	int interp = has_interp(fd, &eh, fsize);
	if (interp < 0)
		return 0;
	if (interp == 0)
		return 1; /* static */
	return has_go_buildinfo(fd, &eh, fsize);
}

int ml_needs_supervisor(const char *path)
{
#if defined(__x86_64__)
	int saved = errno;
	int res = 0;
	struct stat st;
	if (!path || !path[0] || syscall(SYS_newfstatat, AT_FDCWD, path, &st, 0) < 0 || !S_ISREG(st.st_mode))
		goto out;
	/* O_NONBLOCK: should the file turn into a FIFO meanwhile, do not wait for a writer */
	int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		goto out;
	if (syscall(SYS_fstat, fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
		res = elf_check(fd, (uint64_t)st.st_size);
	syscall(SYS_close, fd);
out:
	errno = saved;
	return res;
#else
	(void)path;
	return 0;
#endif
}
