/* Dropping to ipopd.user with CAP_NET_ADMIN only (see privdrop.h). Raw
 * prctl/capset: the kernel interface is three calls, no library needed. */
#include "control/mgmt/privdrop.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "control/core/ctl.h"
#include "util/log.h"

#define KEPT_CAPS (1ull << CAP_NET_ADMIN)

static int caps_set(uint64_t eff, uint64_t perm)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct data[2];
	memset(data, 0, sizeof(data));
	data[0].effective = (uint32_t)eff;
	data[1].effective = (uint32_t)(eff >> 32);
	data[0].permitted = (uint32_t)perm;
	data[1].permitted = (uint32_t)(perm >> 32);
	return syscall(SYS_capset, &hdr, data) < 0 ? -errno : 0;
}

static int last_cap(void)
{
	int last = CAP_LAST_CAP;
	FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
	if (f) {
		if (fscanf(f, "%d", &last) != 1)
			last = CAP_LAST_CAP;
		fclose(f);
	}
	return last;
}

/* The state directory and the regular files directly in it. */
static int chown_state(const char *dir, uid_t uid, gid_t gid)
{
	if (!dir[0])
		return 0;
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (dfd < 0)
		return -errno;
	int rc = fchown(dfd, uid, gid) < 0 ? -errno : 0;
	DIR *d = rc ? NULL : fdopendir(dfd);
	if (!d) {
		close(dfd);
		return rc ? rc : -errno;
	}
	struct dirent *e;
	while (!rc && (e = readdir(d))) {
		struct stat st;
		if (e->d_name[0] == '.' || fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (fchownat(dfd, e->d_name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
			rc = -errno;
	}
	closedir(d);
	return rc;
}

/* Only what is ours to give: a regular file, not a link. */
static int chown_file(const char *path, uid_t uid, gid_t gid)
{
	struct stat st;
	if (!path[0])
		return 0;
	if (lstat(path, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) && !S_ISSOCK(st.st_mode))
		return -EINVAL;
	return lchown(path, uid, gid) < 0 ? -errno : 0;
}

int ctl_privdrop(struct ctl *c, char *err, size_t errlen)
{
	const struct ipop_config *cfg = &c->cfg;
	if (!cfg->user[0]) {
		if (geteuid() == 0)
			log_warn("running as root with every capability: set ipopd.user to drop "
				 "to an unprivileged account after setup");
		return 0;
	}
	errno = 0;
	struct passwd *pw = getpwnam(cfg->user);
	if (!pw) {
		snprintf(err, errlen, "%s: ipopd.user: no account \"%s\"%s%s", c->config_path,
			 cfg->user, errno ? ": " : "", errno ? strerror(errno) : "");
		return -ENOENT;
	}
	uid_t uid = pw->pw_uid;
	gid_t gid = pw->pw_gid;
	if (uid == 0) {
		snprintf(err, errlen,
			 "%s: ipopd.user: \"%s\" is root; name an unprivileged account",
			 c->config_path, cfg->user);
		return -EINVAL;
	}
	int rc;
	if (geteuid() != uid) {
		const char *what = cfg->state_dir;
		if (!(rc = chown_state(cfg->state_dir, uid, gid))) {
			what = cfg->mgmt_socket;
			rc = chown_file(cfg->mgmt_socket, uid, gid);
		}
		for (unsigned i = 0; !rc && i < cfg->nsecret_files; i++) {
			what = cfg->secret_files[i];
			rc = chown_file(cfg->secret_files[i], uid, gid);
		}
		if (rc) {
			snprintf(err, errlen, "cannot hand %s to %s: %s", what, cfg->user,
				 strerror(-rc));
			return rc;
		}
		int last = last_cap();
		for (int cap = 0; cap <= last; cap++)
			if (!(KEPT_CAPS & (1ull << cap)) &&
			    prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL) {
				rc = -errno;
				snprintf(err, errlen, "cannot drop capability %d: %s", cap,
					 strerror(errno));
				return rc;
			}
		if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0 || setgroups(1, &gid) < 0 ||
		    setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0) {
			rc = -errno;
			snprintf(err, errlen, "cannot switch to %s (%u:%u): %s", cfg->user,
				 (unsigned)uid, (unsigned)gid, strerror(errno));
			return rc;
		}
		prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
	}
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	if ((rc = caps_set(KEPT_CAPS, KEPT_CAPS)) ||
	    (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 && (rc = -errno))) {
		snprintf(err, errlen, "cannot limit the capabilities to CAP_NET_ADMIN: %s",
			 strerror(-rc));
		return rc;
	}
	log_info("running as %s (%u:%u) with CAP_NET_ADMIN only", cfg->user, (unsigned)uid,
		 (unsigned)gid);
	return 0;
}
