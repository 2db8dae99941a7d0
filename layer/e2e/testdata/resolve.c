/* resolve: the resolver entry points the layer hooks besides getaddrinfo.
 * Prints one line per call: gethostbyname_r, gethostbyname2_r (AF_INET),
 * gethostbyname2 (AF_INET), then getnameinfo of the first address. */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>

static void print(const char *what, const struct hostent *h)
{
	char ip[INET6_ADDRSTRLEN];
	if (!h) {
		printf("%s none\n", what);
		return;
	}
	inet_ntop(h->h_addrtype, h->h_addr_list[0], ip, sizeof ip);
	printf("%s %s %s\n", what, h->h_name, ip);
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	char buf[1024];
	struct hostent he, *res = NULL;
	int herr = 0;
	gethostbyname_r(argv[1], &he, buf, sizeof buf, &res, &herr);
	print("gethostbyname_r", res);
	res = NULL;
	gethostbyname2_r(argv[1], AF_INET, &he, buf, sizeof buf, &res, &herr);
	print("gethostbyname2_r", res);
	/* a buffer too small is ERANGE, as glibc says */
	char tiny[8];
	int rc = gethostbyname2_r(argv[1], AF_INET, &he, tiny, sizeof tiny, &res, &herr);
	printf("small buffer %s\n", rc == 34 ? "ERANGE" : "other");
	struct hostent *h = gethostbyname2(argv[1], AF_INET);
	print("gethostbyname2", h);
	if (!h)
		return 1;
	struct sockaddr_in sin;
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons(80);
	memcpy(&sin.sin_addr, h->h_addr_list[0], 4);
	char host[256], serv[32];
	rc = getnameinfo((struct sockaddr *)&sin, sizeof sin, host, sizeof host, serv, sizeof serv, NI_NUMERICSERV);
	printf("getnameinfo %d %s %s\n", rc, rc ? "-" : host, rc ? "-" : serv);
	return 0;
}
