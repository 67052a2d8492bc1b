/* Which ipopd to ask when neither -s nor -i is given: the live management
 * sockets in the run directory (/run/ipopd, or $IPOPCTL_RUN_DIR). A socket
 * counts when something accepts a connection on it (a stale file left by a
 * crash does not). One: that one. Several: they are listed and the user
 * picks with -i or -s. */
#include "app/ipopctl.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_LISTED 64

const char *ipopctl_run_dir(void)
{
	const char *d = getenv("IPOPCTL_RUN_DIR");
	return d && *d ? d : IPOPCTL_RUN_DIR;
}

static int live(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sun.sun_path))
		return 0;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	int ok = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
	close(fd);
	return ok;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int ipopctl_find_instance(char *out, size_t outlen)
{
	const char *dir = ipopctl_run_dir();
	DIR *d = opendir(dir);
	char *found[MAX_LISTED];
	unsigned n = 0;
	if (!d) {
		fprintf(stderr,
			"ipopctl: no running ipopd found (%s: %s); give -s SOCKET or -i TAP\n", dir,
			strerror(errno));
		return -ENOENT;
	}
	struct dirent *e;
	while ((e = readdir(d)) && n < MAX_LISTED) {
		size_t l = strlen(e->d_name);
		if (l < 6 || strcmp(e->d_name + l - 5, ".sock"))
			continue;
		char path[PATH_MAX];
		struct stat st;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (stat(path, &st) < 0 || !S_ISSOCK(st.st_mode) || !live(path))
			continue;
		found[n] = strdup(path);
		if (found[n])
			n++;
	}
	closedir(d);
	if (n == 0) {
		fprintf(stderr, "ipopctl: no running ipopd in %s; give -s SOCKET or -i TAP\n", dir);
		return -ENOENT;
	}
	int rc = 0;
	if (n == 1) {
		snprintf(out, outlen, "%s", found[0]);
	} else {
		qsort(found, n, sizeof(found[0]), by_name);
		fprintf(stderr, "ipopctl: %u instances run; choose one with -i TAP or -s SOCKET:\n",
			n);
		for (unsigned i = 0; i < n; i++) {
			const char *base = strrchr(found[i], '/') + 1;
			fprintf(stderr, "  -i %-16.*s (%s)\n", (int)(strlen(base) - 5), base,
				found[i]);
		}
		rc = -EEXIST;
	}
	for (unsigned i = 0; i < n; i++)
		free(found[i]);
	return rc;
}
