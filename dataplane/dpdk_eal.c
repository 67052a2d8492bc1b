/* EAL for the `dpdk` backend: the argument vector from the config plus the
 * defaults one ipopd instance among others needs, the one-line explanation
 * when EAL refuses, and the thread affinity EAL takes from the main thread.
 *
 * EAL can be initialised once per process and, after rte_eal_cleanup(),
 * never again: the backend keys cannot change on reload (reload.c).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>

#include "dataplane/dpdk.h"
#include "util/log.h"

static bool eal_up;
static char runtime_dir[PATH_MAX];

static void runtime_dir_remove(void);

static bool has_arg(const struct dp_dpdk_params *p, const char *const *names)
{
	for (unsigned i = 0; i < p->n_eal_args; i++)
		for (const char *const *n = names; *n; n++) {
			size_t l = strlen(*n);
			if (!strncmp(p->eal_args[i], *n, l) &&
			    (p->eal_args[i][l] == 0 || p->eal_args[i][l] == '='))
				return true;
		}
	return false;
}

static unsigned long hugepages_free(void)
{
	char line[128];
	unsigned long n = 0;
	FILE *f = fopen("/proc/meminfo", "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "HugePages_Free: %lu", &n) == 1)
			break;
	fclose(f);
	return n;
}

static void explain(const struct dp_dpdk_params *p, int e, char *err, size_t errlen)
{
	static const char *const nohuge[] = {"--no-huge", NULL};
	char args[512] = "";
	size_t off = 0;

	for (unsigned i = 0; i < p->n_eal_args && off < sizeof(args) - 1; i++)
		off += (size_t)snprintf(args + off, sizeof(args) - off, "%s%s", i ? " " : "",
					p->eal_args[i]);
	if (!has_arg(p, nohuge) && hugepages_free() == 0)
		snprintf(err, errlen,
			 "dpdk: EAL cannot start (%s): no free hugepages; reserve some (echo 512 > "
			 "/proc/sys/vm/nr_hugepages) or set ipopd.dpdk.eal_args to "
			 "[\"--no-huge\", \"-m\", \"512\"] (EAL arguments: %s)",
			 strerror(e), args);
	else if (e == EALREADY)
		snprintf(err, errlen, "dpdk: EAL was already initialised in this process");
	else
		snprintf(err, errlen,
			 "dpdk: EAL cannot start (%s); check ipopd.dpdk.eal_args (%s) against the "
			 "EAL messages above",
			 strerror(e), args);
}

int dp_dpdk_eal_init(const struct dp_dpdk_params *p, char *err, size_t errlen)
{
	static const char *const prefix[] = {"--file-prefix", "--in-memory", NULL};
	static const char *const lcores[] = {"-l", "-c", "--lcores", NULL};
	static const char *const loglevel[] = {"--log-level", NULL};
	char *argv[DP_DPDK_ARG_MAX + 8];
	char lcore[16];
	cpu_set_t saved;
	int argc = 0, ret;

	if (eal_up) {
		snprintf(err, errlen, "dpdk: EAL was already initialised in this process");
		return -EALREADY;
	}
	if (p->n_eal_args > DP_DPDK_ARG_MAX) {
		snprintf(err, errlen, "dpdk: more than %d EAL arguments", DP_DPDK_ARG_MAX);
		return -E2BIG;
	}
	argv[argc++] = "ipopd";
	if (!has_arg(p, loglevel))
		argv[argc++] = "--log-level=notice";
	if (!has_arg(p, prefix) && p->file_prefix[0]) {
		argv[argc++] = "--file-prefix";
		argv[argc++] = (char *)p->file_prefix;
	}
	CPU_ZERO(&saved);
	if (pthread_getaffinity_np(pthread_self(), sizeof(saved), &saved) != 0)
		CPU_SET(0, &saved);
	if (!has_arg(p, lcores)) {
		int first = 0;
		while (first < CPU_SETSIZE - 1 && !CPU_ISSET(first, &saved))
			first++;
		/* lcore 0 on our first CPU: the control core. Workers register
		 * their own lcore ids (rte_thread_register). */
		snprintf(lcore, sizeof(lcore), "0@%d", first);
		argv[argc++] = "--lcores";
		argv[argc++] = lcore;
	}
	for (unsigned i = 0; i < p->n_eal_args; i++)
		argv[argc++] = (char *)p->eal_args[i];
	argv[argc] = NULL;

	/* EAL may keep pointers into argv: the strings outlive the call
	 * (config or static storage), the array is copied. */
	static char *kept[DP_DPDK_ARG_MAX + 8];
	memcpy(kept, argv, sizeof(kept));
	ret = rte_eal_init(argc, kept);
	/* EAL pinned this thread to the main lcore's CPU: give the control core
	 * (and the workers it creates) their CPUs back. */
	pthread_setaffinity_np(pthread_self(), sizeof(saved), &saved);
	if (ret < 0) {
		int e = rte_errno ? rte_errno : EINVAL;
		fflush(stdout); /* EAL's usage text first, our one line last */
		explain(p, e, err, errlen);
		/* Whatever EAL set up before it failed. */
		rte_eal_cleanup();
		snprintf(runtime_dir, sizeof(runtime_dir), "%s", rte_eal_get_runtime_dir());
		runtime_dir_remove();
		return -e;
	}
	eal_up = true;
	snprintf(runtime_dir, sizeof(runtime_dir), "%s", rte_eal_get_runtime_dir());
	return 0;
}

/* rte_eal_cleanup() leaves EAL's runtime directory (config, mp_socket,
 * fbarray files) behind; it is ours alone (our --file-prefix). */
static void runtime_dir_remove(void)
{
	char path[PATH_MAX + 256];
	struct dirent *e;
	DIR *dir = runtime_dir[0] ? opendir(runtime_dir) : NULL;
	if (!dir)
		return;
	while ((e = readdir(dir)))
		if (e->d_name[0] != '.') {
			snprintf(path, sizeof(path), "%s/%s", runtime_dir, e->d_name);
			unlink(path);
		}
	closedir(dir);
	rmdir(runtime_dir);
}

void dp_dpdk_eal_fini(void)
{
	if (!eal_up)
		return;
	rte_eal_cleanup();
	runtime_dir_remove();
	/* Once cleaned up, EAL cannot start again in this process. */
}
