/* Unit tests that need a network of their own (kernel backend, inject ring):
 * a private network namespace with lo up, /dev/net/tun usable, and
 * optionally our own sysfs (as `ip netns exec` does), so nothing the test
 * creates is visible on the host. Header-only: tests are separate programs. */
#pragma once
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>

/* Sets or clears IFF_UP. 0 or -1 (errno). */
static inline int test_if_set_up(const char *name, bool up)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int ret = -1;

	if (fd < 0)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0) {
		if (up)
			ifr.ifr_flags |= IFF_UP;
		else
			ifr.ifr_flags &= ~IFF_UP;
		ret = ioctl(fd, SIOCSIFFLAGS, &ifr);
	}
	close(fd);
	return ret;
}

/* Enters the private namespace. Returns 0, 77 (the machine cannot: skip,
 * said on stderr) or 1 (failure). own_sysfs: also a mount namespace with a
 * sysfs of this network namespace. */
static inline int test_enter_private_netns(bool own_sysfs)
{
	if (unshare(CLONE_NEWNET | (own_sysfs ? CLONE_NEWNS : 0)) < 0) {
		fprintf(stderr, "cannot create a network namespace (%s): skipped\n",
			strerror(errno));
		return 77;
	}
	/* sysfs shows the namespace of whoever mounted it: mount our own, in
	 * our own mount namespace, the way `ip netns exec` does. */
	if (own_sysfs &&
	    (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	     umount2("/sys", MNT_DETACH) < 0 || mount("sysfs", "/sys", "sysfs", 0, NULL) < 0)) {
		fprintf(stderr, "cannot mount sysfs for the namespace (%s): skipped\n",
			strerror(errno));
		return 77;
	}
	if (access("/dev/net/tun", R_OK | W_OK) < 0) {
		fprintf(stderr, "no /dev/net/tun: skipped\n");
		return 77;
	}
	if (test_if_set_up("lo", true) < 0) {
		fprintf(stderr, "cannot bring lo up: %s\n", strerror(errno));
		return 1;
	}
	return 0;
}
