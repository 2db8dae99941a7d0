/*
 * elfcheck_main drives ml_needs_supervisor (layer/preload/elfcheck.c) for
 * TestNeedsSupervisorMalformedELF: it prints "RESULT PATH" per argument.
 * Built with the sanitizers, so a read out of bounds or an overflow aborts.
 */
#include <stdio.h>

int ml_needs_supervisor(const char *path);

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		printf("%d %s\n", ml_needs_supervisor(argv[i]), argv[i]);
	return 0;
}
