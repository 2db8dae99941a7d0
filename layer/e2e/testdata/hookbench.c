/*
 * hookbench: time calls the layer hooks but decides locally.
 *   hookbench N_OPEN N_CONNECT [wall]
 * prints "open_ns X" (open+close of a local file) and "connect_ns Y"
 * (socket+connect+close to a loopback listener of its own): the fastest of
 * 5 rounds, in CPU time of the calling thread (user + kernel), so a busy
 * machine adds as little of its noise as possible. With "wall", times are
 * wall-clock (for calls that wait on the intproxy); N_CONNECT 0 skips the
 * connect part.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static clockid_t clock_id = CLOCK_THREAD_CPUTIME_ID;

static double now(void)
{
	struct timespec ts;
	clock_gettime(clock_id, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void *acceptor(void *arg)
{
	int ln = *(int *)arg;
	for (;;) {
		int c = accept(ln, NULL, NULL);
		if (c < 0)
			return NULL;
		close(c);
	}
}

int main(int argc, char **argv)
{
	if (argc != 3 && argc != 4)
		return 2;
	if (argc == 4)
		clock_id = CLOCK_MONOTONIC;
	int nopen = atoi(argv[1]), nconn = atoi(argv[2]);
	double best = 0;
	for (int round = 0; round < 5; round++) { /* the fastest of 5 rounds */
		double t0 = now();
		for (int i = 0; i < nopen / 5; i++) {
			int fd = open("/usr/include/stdio.h", O_RDONLY | O_CLOEXEC);
			if (fd < 0) {
				perror("open");
				return 1;
			}
			close(fd);
		}
		double dt = (now() - t0) / (nopen / 5);
		if (round == 0 || dt < best)
			best = dt;
	}
	printf("open_ns %.1f\n", best);
	if (nconn == 0)
		return 0;

	int ln = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof a;
	if (bind(ln, (struct sockaddr *)&a, sizeof a) < 0 || listen(ln, 4096) < 0 ||
	    getsockname(ln, (struct sockaddr *)&a, &al) < 0) {
		perror("listener");
		return 1;
	}
	pthread_t th;
	pthread_create(&th, NULL, acceptor, &ln);
	for (int round = 0; round < 5; round++) {
		double t0 = now();
		for (int i = 0; i < nconn / 5; i++) {
			int s = socket(AF_INET, SOCK_STREAM, 0);
			if (connect(s, (struct sockaddr *)&a, sizeof a) < 0) {
				perror("connect");
				return 1;
			}
			close(s);
		}
		double dt = (now() - t0) / (nconn / 5);
		if (round == 0 || dt < best)
			best = dt;
	}
	printf("connect_ns %.1f\n", best);
	return 0;
}
