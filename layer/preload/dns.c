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
#include <stdlib.h>
#include <string.h>

typedef int (*gai_fn)(const char *, const char *, const struct addrinfo *, struct addrinfo **);
typedef void (*fai_fn)(struct addrinfo *);
typedef struct hostent *(*ghbn_fn)(const char *);

#define ML_MAXADDRS 32

struct answer {
	char canon[256];
	int n;
	struct ml_addr addrs[ML_MAXADDRS];
};

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
