/* Node identity (see identity.h): the static X25519 key pair in
 * <state_dir>/node.key and the base64 form of keys.
 *
 * The file holds only the private key, base64 and a newline, like
 * `wg genkey`; the public key is always derived, so the two can never
 * disagree. A key file that others can read is refused rather than fixed:
 * the key may already have leaked, and the operator should know. A new key
 * is written to a private temporary file and then hard-linked into place, so
 * a crash never leaves a half-written node.key and two instances racing on
 * one state directory end up sharing the first key instead of overwriting it.
 * The base64 form of keys is util/key64.c.
 */
#include "control/link/identity.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "control/link/noise.h"

_Static_assert(IPOP_KEY_LEN == NOISE_KEY_LEN, "identity keys are Noise static keys");

/* 44 characters, an optional newline, and room to notice anything more. */
#define KEY_FILE_READ_MAX (IPOP_KEY_B64_LEN + 8)

/* ---- node.key ---------------------------------------------------------- */

__attribute__((format(printf, 4, 5))) static int fail(char *err, size_t errlen, int ret,
						      const char *fmt, ...)
{
	va_list ap;
	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return ret;
}

/* mkdir -p: missing components are created 0700; existing parents are left
 * as they are (/var/lib is not ours to tighten). */
static int make_dirs(const char *dir, char *err, size_t errlen)
{
	char buf[PATH_MAX];
	struct stat st;
	size_t n = strlen(dir);

	if (n == 0 || n >= sizeof(buf))
		return fail(err, errlen, -ENAMETOOLONG,
			    "%s: expected a state directory path of 1..%zu characters", dir,
			    sizeof(buf) - 1);
	memcpy(buf, dir, n + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, 0700) < 0 && errno != EEXIST)
			return fail(err, errlen, -errno,
				    "%s: cannot create the state directory: %s", buf,
				    strerror(errno));
		*p = '/';
	}
	if (mkdir(buf, 0700) < 0 && errno != EEXIST)
		return fail(err, errlen, -errno, "%s: cannot create the state directory: %s", buf,
			    strerror(errno));
	if (stat(buf, &st) < 0)
		return fail(err, errlen, -errno, "%s: expected a state directory, got: %s", buf,
			    strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return fail(err, errlen, -ENOTDIR, "%s: expected a state directory, got a file",
			    buf);
	/* Whoever may write the directory may swap node.key for a key they
	 * know: a state_dir under /tmp pre-created by someone else is refused. */
	if ((st.st_uid != geteuid() && st.st_uid != 0) || (st.st_mode & 022))
		return fail(err, errlen, -EPERM,
			    "%s: expected a state directory owned by us or root and writable "
			    "only by its owner, got uid %u mode %04o",
			    buf, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
	return 0;
}

/* Reads and checks an existing key file; -ENOENT (nothing written to err)
 * when there is none. */
static int read_key_file(const char *path, struct ipop_identity *id, char *err, size_t errlen)
{
	char buf[KEY_FILE_READ_MAX + 1];
	struct stat st;
	size_t got = 0;
	bool truncated;
	ssize_t n;
	int fd, ret;

	/* O_NONBLOCK: a FIFO in its place must not hang startup. */
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return -ENOENT;
		if (errno == ELOOP)
			return fail(err, errlen, -ELOOP,
				    "%s: expected a regular file, got a symbolic link", path);
		return fail(err, errlen, -errno, "%s: expected a readable key file, got: %s", path,
			    strerror(errno));
	}
	if (fstat(fd, &st) < 0) {
		ret = fail(err, errlen, -errno, "%s: expected a readable key file, got: %s", path,
			   strerror(errno));
		goto out_close;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = fail(err, errlen, -EINVAL, "%s: expected a regular file, got %s", path,
			   S_ISDIR(st.st_mode) ? "a directory" : "a special file");
		goto out_close;
	}
	if (st.st_mode & 077) {
		ret = fail(err, errlen, -EPERM,
			   "%s: expected mode 0600 or stricter, got %04o (the private key may "
			   "have leaked: replace it, or chmod 600 if it did not)",
			   path, (unsigned)(st.st_mode & 07777));
		goto out_close;
	}
	while (got < sizeof(buf) - 1) {
		n = read(fd, buf + got, sizeof(buf) - 1 - got);
		if (n == 0)
			break;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = fail(err, errlen, -errno, "%s: expected a readable key file, got: %s",
				   path, strerror(errno));
			goto out_wipe;
		}
		got += (size_t)n;
	}
	buf[got] = 0;
	truncated = got == sizeof(buf) - 1;
	/* 44 characters and a newline (which may be missing). The content is
	 * a secret: it is described by its length only. */
	if (got && buf[got - 1] == '\n')
		buf[--got] = 0;
	if (got != IPOP_KEY_B64_LEN || strlen(buf) != got || ipop_key_from_base64(buf, id->priv)) {
		ret = fail(err, errlen, -EINVAL,
			   "%s: expected one base64 private key (44 characters and a newline), "
			   "got %s%zu characters",
			   path, truncated ? "at least " : "", got);
		goto out_wipe;
	}
	ret = noise_pubkey_from_private(id->pub, id->priv);
	if (ret)
		fail(err, errlen, ret, "%s: cannot derive the public key: %s", path,
		     strerror(-ret));
out_wipe:
	explicit_bzero(buf, sizeof(buf));
out_close:
	close(fd);
	return ret;
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Creates path with a new key. -EEXIST (nothing written to err) when
 * another process created it first. */
static int create_key_file(const char *dir, const char *path, struct ipop_identity *id, char *err,
			   size_t errlen)
{
	char tmp[PATH_MAX], line[IPOP_KEY_B64_LEN + 2];
	int fd, dfd, ret;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.%ld.tmp", dir, IPOP_KEY_FILE,
			     (long)getpid()) >= sizeof(tmp))
		return fail(err, errlen, -ENAMETOOLONG, "%s: path too long", path);
	ret = noise_keypair_generate(id->priv, id->pub);
	if (ret)
		return fail(err, errlen, ret, "%s: cannot generate a key pair: %s", path,
			    strerror(-ret));
	/* A leftover from a crash of this very pid is ours to replace. */
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		ret = fail(err, errlen, -errno, "%s: cannot create the key file: %s", tmp,
			   strerror(errno));
		goto out_wipe;
	}
	ipop_key_to_base64(id->priv, line);
	line[IPOP_KEY_B64_LEN] = '\n';
	line[IPOP_KEY_B64_LEN + 1] = 0;
	/* fchmod: the umask may have taken bits; 0600 exactly is what we mean */
	ret = fchmod(fd, 0600) < 0 ? -errno : 0;
	if (!ret)
		ret = write_all(fd, line, IPOP_KEY_B64_LEN + 1);
	if (!ret && fsync(fd) < 0)
		ret = -errno;
	close(fd);
	if (ret) {
		fail(err, errlen, ret, "%s: cannot write the key file: %s", tmp, strerror(-ret));
		goto out_unlink;
	}
	/* link, not rename: never replace a key someone else just created */
	if (link(tmp, path) < 0) {
		ret = -errno;
		if (ret != -EEXIST)
			fail(err, errlen, ret, "%s: cannot create the key file: %s", path,
			     strerror(-ret));
		goto out_unlink;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
out_unlink:
	unlink(tmp);
out_wipe:
	explicit_bzero(line, sizeof(line));
	if (ret)
		ipop_identity_wipe(id);
	return ret;
}

int ipop_identity_load(const char *state_dir, struct ipop_identity *id, char *err, size_t errlen)
{
	char path[PATH_MAX];
	int ret;

	if (err && errlen)
		err[0] = 0;
	if (!state_dir || !id)
		return fail(err, errlen, -EINVAL, "identity: no state directory");
	memset(id, 0, sizeof(*id));
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", state_dir, IPOP_KEY_FILE) >= sizeof(path))
		return fail(err, errlen, -ENAMETOOLONG, "%s: state directory path too long",
			    state_dir);
	ret = make_dirs(state_dir, err, errlen);
	if (ret)
		return ret;
	/* Twice at most: a creation that loses a race reads the winner's key. */
	for (int attempt = 0; attempt < 2; attempt++) {
		ret = read_key_file(path, id, err, errlen);
		if (ret != -ENOENT)
			break;
		ret = create_key_file(state_dir, path, id, err, errlen);
		if (ret != -EEXIST)
			break;
	}
	if (ret == -ENOENT || ret == -EEXIST)
		fail(err, errlen, ret, "%s: the key file keeps appearing and vanishing", path);
	if (ret)
		ipop_identity_wipe(id);
	return ret;
}

void ipop_identity_wipe(struct ipop_identity *id)
{
	if (id)
		explicit_bzero(id->priv, sizeof(id->priv));
}
