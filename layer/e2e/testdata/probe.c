/*
 * probe: exercises the layer from C.
 *   probe HOST PORT
 * resolves HOST with gethostbyname and getaddrinfo(AI_CANONNAME), connects
 * to it, checks getpeername, sends an HTTP request, then forks a child
 * (no exec) that does the same on its own (the layer reconnects lazily in
 * the child). Prints one line per step.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static int get(const char *host, int port, const char *path, char *out, size_t cap)
{
	struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM, .ai_flags = AI_CANONNAME}, *res;
	char svc[16];
	snprintf(svc, sizeof svc, "%d", port);
	int e = getaddrinfo(host, svc, &hints, &res);
	if (e) {
		printf("getaddrinfo: %s\n", gai_strerror(e));
		return -1;
	}
	printf("canonname %s\n", res->ai_canonname ? res->ai_canonname : "(null)");
	int s = socket(res->ai_family, res->ai_socktype, 0);
	if (connect(s, res->ai_addr, res->ai_addrlen) < 0) {
		perror("connect");
		freeaddrinfo(res);
		return -1;
	}
	struct sockaddr_in peer;
	socklen_t pl = sizeof peer;
	getpeername(s, (struct sockaddr *)&peer, &pl);
	char ip[32];
	inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof ip);
	printf("peer %s:%d\n", ip, ntohs(peer.sin_port));
	freeaddrinfo(res);
	char req[256];
	int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: %s\r\n\r\n", path, host);
	if (write(s, req, n) != n)
		return -1;
	size_t got = 0;
	ssize_t r;
	while ((r = read(s, out + got, cap - 1 - got)) > 0)
		got += r;
	out[got] = 0;
	close(s);
	char *body = strstr(out, "\r\n\r\n");
	if (body)
		memmove(out, body + 4, strlen(body + 4) + 1);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	setvbuf(stdout, NULL, _IONBF, 0);
	struct hostent *h = gethostbyname(argv[1]);
	if (!h) {
		printf("gethostbyname failed\n");
		return 1;
	}
	printf("gethostbyname %s\n", inet_ntoa(*(struct in_addr *)h->h_addr_list[0]));
	char buf[4096];
	if (get(argv[1], atoi(argv[2]), "/parent", buf, sizeof buf) < 0)
		return 1;
	printf("body %s\n", buf);
	pid_t pid = fork();
	if (pid == 0) {
		if (get(argv[1], atoi(argv[2]), "/child", buf, sizeof buf) < 0)
			_exit(1);
		printf("child body %s\n", buf);
		_exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	printf("child exit %d\n", WEXITSTATUS(st));
	return 0;
}
