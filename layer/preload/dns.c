/*
 * Name resolution hooks: getaddrinfo and gethostbyname ask the intproxy,
 * which resolves in the target (or says "local" for names the dns filter
 * keeps local).
 *
 * A remote answer is turned into a normal glibc addrinfo list by calling the
 * real getaddrinfo once per address with AI_NUMERICHOST (so service names,
 * socket types and AI_V4MAPPED behave exactly as glibc does) and chaining
 * the lists. glibc's freeaddrinfo frees node by node, so the chained list is
 * freed by the real freeaddrinfo.
 */
#include "layer.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef int (*gai_fn)(const char *, const char *, const struct addrinfo *, struct addrinfo **);
typedef void (*fai_fn)(struct addrinfo *);
typedef struct hostent *(*ghbn_fn)(const char *);
typedef struct hostent *(*ghbn2_fn)(const char *, int);
typedef int (*ghbnr_fn)(const char *, struct hostent *, char *, size_t, struct hostent **, int *);
typedef int (*ghbn2r_fn)(const char *, int, struct hostent *, char *, size_t, struct hostent **, int *);
typedef int (*gni_fn)(const struct sockaddr *, socklen_t, char *, socklen_t, char *, socklen_t, int);

#define ML_MAXADDRS 32

struct answer {
	char canon[256];
	int n;
	struct ml_addr addrs[ML_MAXADDRS];
};

/* Names this process resolved in the target, newest first over the oldest:
 * getnameinfo answers from them, so an address the target's DNS or hosts
 * file named is named the same way back (there is no reverse lookup in the
 * target). */
#define ML_NAMECACHE 64
static struct {
	struct ml_addr a;
	char name[256];
} names[ML_NAMECACHE];
static unsigned names_next;
static pthread_mutex_t names_mu = PTHREAD_MUTEX_INITIALIZER;

static void remember(const char *name, const struct answer *ans)
{
	size_t nl = strnlen(name, sizeof names[0].name - 1);
	pthread_mutex_lock(&names_mu);
	for (int i = 0; i < ans->n; i++) {
		unsigned k = names_next++ % ML_NAMECACHE;
		names[k].a = ans->addrs[i];
		memcpy(names[k].name, name, nl);
		names[k].name[nl] = 0;
	}
	pthread_mutex_unlock(&names_mu);
}

/* recall copies the name remembered for a (family and address bytes) into
 * out; 0 when found. */
static int recall(const struct ml_addr *a, char *out, size_t outlen)
{
	int rc = -1;
	int alen = a->fam == ML_FAM_V4 ? 4 : 16;
	pthread_mutex_lock(&names_mu);
	unsigned n = names_next < ML_NAMECACHE ? names_next : ML_NAMECACHE;
	for (unsigned j = 0; j < n && rc; j++) {
		unsigned k = (names_next - 1 - j) % ML_NAMECACHE;
		if (names[k].a.fam == a->fam && memcmp(names[k].a.ip, a->ip, alen) == 0) {
			size_t nl = strlen(names[k].name);
			if (nl + 1 > outlen) {
				rc = 1;
				break;
			}
			memcpy(out, names[k].name, nl + 1);
			rc = 0;
		}
	}
	pthread_mutex_unlock(&names_mu);
	return rc;
}

/* ask_dns returns 0 with ans filled, 1 for "resolve locally", or a negative
 * EAI code. */
static int ask_dns(const char *node, int family, struct answer *ans)
{
	size_t n = strlen(node);
	if (n == 0 || n > 1024)
		return 1;
	uint8_t mem[1100], in[2048];
	struct ml_buf b;
	struct ml_resp r;
	mb_init(&b, mem, sizeof mem, ML_OP_DNS);
	mb_u8(&b, family == AF_INET ? ML_FAM_V4 : family == AF_INET6 ? ML_FAM_V6 : 0);
	mb_bytes(&b, node, n);
	if (ml_call(&b, in, sizeof in, &r, 1) < 0 || r.status == ML_ST_LOCAL)
		return 1;
	if (r.status == ML_ST_EAI) {
		int32_t e = mr_i32(&r);
		return (r.bad || e >= 0) ? EAI_FAIL : e;
	}
	if (r.status != ML_ST_OK)
		return EAI_FAIL;
	if (mr_str(&r, ans->canon, sizeof ans->canon) < 0)
		return EAI_FAIL;
	uint16_t cnt = mr_u16(&r);
	ans->n = 0;
	for (uint16_t i = 0; i < cnt && !r.bad; i++) {
		struct ml_addr a;
		mr_addr(&r, &a);
		if (ans->n < ML_MAXADDRS && (a.fam == ML_FAM_V4 || a.fam == ML_FAM_V6))
			ans->addrs[ans->n++] = a;
	}
	if (r.bad)
		return EAI_FAIL;
	if (ans->n > 0)
		remember(ans->canon[0] ? ans->canon : node, ans);
	return ans->n > 0 ? 0 : EAI_NONAME;
}

static int is_numeric(const char *node)
{
	unsigned char buf[16];
	return inet_pton(AF_INET, node, buf) == 1 || inet_pton(AF_INET6, node, buf) == 1;
}

ML_EXPORT int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
			  struct addrinfo **res)
{
	REAL(gai_fn, "getaddrinfo");
	if (!ML_ACTIVE() || !(ml_flags & ML_F_DNS) || !node || !res)
		return real_fn(node, service, hints, res);
	if (hints && (hints->ai_flags & AI_NUMERICHOST))
		return real_fn(node, service, hints, res);
	int family = hints ? hints->ai_family : AF_UNSPEC;
	if ((family != AF_UNSPEC && family != AF_INET && family != AF_INET6) || is_numeric(node))
		return real_fn(node, service, hints, res);

	struct answer ans;
	ml_guard++;
	int rc = ask_dns(node, family, &ans);
	ml_guard--;
	if (rc == 1)
		return real_fn(node, service, hints, res);
	if (rc < 0)
		return rc;

	struct addrinfo h;
	memset(&h, 0, sizeof h);
	if (hints)
		h = *hints;
	int want_canon = (h.ai_flags & AI_CANONNAME) != 0;
	h.ai_flags = (h.ai_flags | AI_NUMERICHOST) & ~(AI_CANONNAME | AI_ADDRCONFIG);
	h.ai_canonname = NULL;
	h.ai_addr = NULL;
	h.ai_next = NULL;

	struct addrinfo *head = NULL, *tail = NULL;
	int last = EAI_NONAME;
	for (int i = 0; i < ans.n; i++) {
		const struct ml_addr *a = &ans.addrs[i];
		if ((family == AF_INET && a->fam != ML_FAM_V4) ||
		    (family == AF_INET6 && a->fam != ML_FAM_V6 && !(hints && (hints->ai_flags & AI_V4MAPPED))))
			continue;
		char ip[INET6_ADDRSTRLEN];
		if (!inet_ntop(a->fam == ML_FAM_V4 ? AF_INET : AF_INET6, a->ip, ip, sizeof ip))
			continue;
		struct addrinfo *part = NULL;
		int e = real_fn(ip, service, &h, &part);
		if (e != 0) {
			last = e;
			continue;
		}
		if (!head)
			head = part;
		else
			tail->ai_next = part;
		for (tail = part; tail->ai_next; tail = tail->ai_next)
			;
	}
	if (!head)
		return last;
	if (want_canon)
		head->ai_canonname = strdup(ans.canon[0] ? ans.canon : node); /* NULL if out of memory */
	*res = head;
	return 0;
}

ML_EXPORT void freeaddrinfo(struct addrinfo *ai)
{
	REAL(fai_fn, "freeaddrinfo");
	real_fn(ai);
}

/* gethostbyname keeps its answer in per-thread storage, like glibc's (which
 * is per process, so this is strictly safer). */
struct hostbuf {
	struct hostent h;
	char name[256];
	char *aliases[1];
	char *addrs[ML_MAXADDRS + 1];
	uint8_t data[ML_MAXADDRS][4];
};
static __thread struct hostbuf hb __attribute__((tls_model("initial-exec")));

ML_EXPORT struct hostent *gethostbyname(const char *name)
{
	REAL(ghbn_fn, "gethostbyname");
	if (!ML_ACTIVE() || !(ml_flags & ML_F_DNS) || !name || is_numeric(name))
		return real_fn(name);
	struct answer ans;
	ml_guard++;
	int rc = ask_dns(name, AF_INET, &ans);
	ml_guard--;
	if (rc == 1)
		return real_fn(name);
	if (rc < 0) {
		h_errno = rc == EAI_AGAIN ? TRY_AGAIN : HOST_NOT_FOUND;
		return NULL;
	}
	memset(&hb, 0, sizeof hb);
	const char *nm = ans.canon[0] ? ans.canon : name;
	size_t nl = strnlen(nm, sizeof hb.name - 1);
	memcpy(hb.name, nm, nl);
	hb.name[nl] = 0;
	int k = 0;
	for (int i = 0; i < ans.n; i++) {
		if (ans.addrs[i].fam != ML_FAM_V4)
			continue;
		memcpy(hb.data[k], ans.addrs[i].ip, 4);
		hb.addrs[k] = (char *)hb.data[k];
		k++;
	}
	if (k == 0) {
		h_errno = NO_DATA;
		return NULL;
	}
	hb.h.h_name = hb.name;
	hb.h.h_aliases = hb.aliases;
	hb.h.h_addrtype = AF_INET;
	hb.h.h_length = 4;
	hb.h.h_addr_list = hb.addrs;
	return &hb.h;
}

/* fill_hostent lays out the answer's addresses of family (AF_INET or
 * AF_INET6) as a hostent in buf: 0, ERANGE when buf is too small, or
 * ENOENT when the answer has no address of that family. */
static int fill_hostent(const struct answer *ans, const char *name, int family, struct hostent *h,
			char *buf, size_t buflen)
{
	int fam = family == AF_INET6 ? ML_FAM_V6 : ML_FAM_V4;
	size_t alen = family == AF_INET6 ? 16 : 4;
	size_t k = 0;
	for (int i = 0; i < ans->n; i++)
		k += ans->addrs[i].fam == fam;
	if (k == 0)
		return ENOENT;
	const char *nm = ans->canon[0] ? ans->canon : name;
	size_t nl = strlen(nm) + 1;
	size_t pad = (sizeof(char *) - ((uintptr_t)buf % sizeof(char *))) % sizeof(char *);
	size_t need = pad + sizeof(char *) * (k + 2) + k * alen + nl;
	if (!buf || need > buflen)
		return ERANGE;
	char **aliases = (char **)(void *)(buf + pad);
	char **addrs = aliases + 1;
	char *data = (char *)(addrs + k + 1);
	aliases[0] = NULL;
	size_t j = 0;
	for (int i = 0; i < ans->n; i++) {
		if (ans->addrs[i].fam != fam)
			continue;
		memcpy(data + j * alen, ans->addrs[i].ip, alen);
		addrs[j] = data + j * alen;
		j++;
	}
	addrs[k] = NULL;
	char *np = data + k * alen;
	memcpy(np, nm, nl);
	h->h_name = np;
	h->h_aliases = aliases;
	h->h_addrtype = family;
	h->h_length = (int)alen;
	h->h_addr_list = addrs;
	return 0;
}

/* lookup_r is the common part of the _r functions: 1 to call the real
 * function, else the glibc return value with *result and *herr set. */
static int lookup_r(const char *name, int family, struct hostent *ret, char *buf, size_t buflen,
		    struct hostent **result, int *herr, int *out)
{
	if (!ML_ACTIVE() || !(ml_flags & ML_F_DNS) || !name || !ret || !result || is_numeric(name) ||
	    (family != AF_INET && family != AF_INET6))
		return 1;
	struct answer ans;
	ml_guard++;
	int rc = ask_dns(name, family, &ans);
	ml_guard--;
	if (rc == 1)
		return 1;
	*result = NULL;
	if (rc < 0) {
		if (herr)
			*herr = rc == EAI_AGAIN ? TRY_AGAIN : HOST_NOT_FOUND;
		*out = rc == EAI_AGAIN ? EAGAIN : 0;
		return 0;
	}
	int e = fill_hostent(&ans, name, family, ret, buf, buflen);
	if (e == ERANGE) {
		if (herr)
			*herr = NETDB_INTERNAL;
		*out = ERANGE;
		return 0;
	}
	if (e) {
		if (herr)
			*herr = NO_DATA;
		*out = 0;
		return 0;
	}
	*result = ret;
	*out = 0;
	return 0;
}

ML_EXPORT int gethostbyname_r(const char *name, struct hostent *ret, char *buf, size_t buflen,
			      struct hostent **result, int *herr)
{
	REAL(ghbnr_fn, "gethostbyname_r");
	int out;
	if (lookup_r(name, AF_INET, ret, buf, buflen, result, herr, &out))
		return real_fn(name, ret, buf, buflen, result, herr);
	return out;
}

ML_EXPORT int gethostbyname2_r(const char *name, int af, struct hostent *ret, char *buf, size_t buflen,
			       struct hostent **result, int *herr)
{
	REAL(ghbn2r_fn, "gethostbyname2_r");
	int out;
	if (lookup_r(name, af, ret, buf, buflen, result, herr, &out))
		return real_fn(name, af, ret, buf, buflen, result, herr);
	return out;
}

/* gethostbyname2 keeps its answer per thread, as gethostbyname does. */
static __thread struct hostent hb2 __attribute__((tls_model("initial-exec")));
static __thread char hb2buf[256 + (ML_MAXADDRS + 2) * (sizeof(char *) + 16)]
	__attribute__((tls_model("initial-exec")));

ML_EXPORT struct hostent *gethostbyname2(const char *name, int af)
{
	REAL(ghbn2_fn, "gethostbyname2");
	struct hostent *res = NULL;
	int herr = 0, out;
	if (lookup_r(name, af, &hb2, hb2buf, sizeof hb2buf, &res, &herr, &out))
		return real_fn(name, af);
	if (!res)
		h_errno = herr;
	return res;
}

/* getnameinfo names an address this process resolved in the target as the
 * target did; every other address (and the service part) is the real
 * function's. */
ML_EXPORT int getnameinfo(const struct sockaddr *sa, socklen_t salen, char *host, socklen_t hostlen,
			  char *serv, socklen_t servlen, int flags)
{
	REAL(gni_fn, "getnameinfo");
	if (!ML_ACTIVE() || !sa || !host || hostlen == 0 || (flags & NI_NUMERICHOST))
		return real_fn(sa, salen, host, hostlen, serv, servlen, flags);
	struct ml_addr a;
	memset(&a, 0, sizeof a);
	if (sa->sa_family == AF_INET && salen >= (socklen_t)sizeof(struct sockaddr_in)) {
		a.fam = ML_FAM_V4;
		memcpy(a.ip, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6 && salen >= (socklen_t)sizeof(struct sockaddr_in6)) {
		a.fam = ML_FAM_V6;
		memcpy(a.ip, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
	} else {
		return real_fn(sa, salen, host, hostlen, serv, servlen, flags);
	}
	char name[256];
	int rc = recall(&a, name, sizeof name);
	if (rc < 0)
		return real_fn(sa, salen, host, hostlen, serv, servlen, flags);
	if (rc > 0 || strlen(name) + 1 > hostlen)
		return EAI_OVERFLOW;
	if (serv && servlen) {
		/* the service part as glibc formats it, the host part ours */
		int e = real_fn(sa, salen, NULL, 0, serv, servlen, flags);
		if (e)
			return e;
	}
	if (flags & NI_NOFQDN) {
		char *dot = strchr(name, '.');
		if (dot)
			*dot = 0;
	}
	memcpy(host, name, strlen(name) + 1);
	return 0;
}
