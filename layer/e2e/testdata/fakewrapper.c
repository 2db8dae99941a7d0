/*
 * fakewrapper plays MIRRORD_SUPERVISOR_EXEC in the exec-hook tests: it
 * prints what the layer handed it instead of attaching anything.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

int main(int argc, char **argv)
{
	const char *a = getenv("_MIRRORD_SUPERVISOR_ATTACH");
	int n = 0;
	for (char **e = environ; *e; e++)
		if (strncmp(*e, "_MIRRORD_SUPERVISOR_ATTACH=", 27) == 0)
			n++;
	printf("wrapper attach=%s count=%d argv", a ? a : "-", n);
	for (int i = 0; i < argc; i++)
		printf(" [%s]", argv[i]);
	printf("\n");
	return 0;
}
