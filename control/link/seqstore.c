/* Sequence reservations on disk (see seqstore.h). */
#include "control/link/seqstore.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void seq_path(char *buf, size_t len, const char *dir, uint32_t spi, const char *suffix)
{
	snprintf(buf, len, "%s/seq-%08x%s", dir, spi, suffix);
}

int ctl_seq_load(const char *dir, uint32_t spi, uint64_t *mark)
{
	char path[4200], text[32];
	seq_path(path, sizeof(path), dir, spi, "");
	*mark = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	ssize_t n = read(fd, text, sizeof(text) - 1);
	int err = n < 0 ? -errno : 0;
	close(fd);
	if (err)
		return err;
	text[n] = 0;
	/* Digits and one optional newline, nothing else (strtoull alone would
	 * take signs, spaces and trailing lines). */
	if (text[0] < '0' || text[0] > '9')
		return -EBADMSG;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(text, &end, 10);
	if (*end == '\n')
		end++;
	if (errno || *end || v > UINT32_MAX + 1ull)
		return -EBADMSG;
	*mark = v;
	return 0;
}

int ctl_seq_store(const char *dir, uint32_t spi, uint64_t mark)
{
	char path[4200], tmp[4200], text[32];
	seq_path(path, sizeof(path), dir, spi, "");
	seq_path(tmp, sizeof(tmp), dir, spi, ".tmp");
	int len = snprintf(text, sizeof(text), "%" PRIu64 "\n", mark);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	int err = 0;
	if (write(fd, text, (size_t)len) != len || fsync(fd) < 0)
		err = errno ? -errno : -EIO;
	if (close(fd) < 0 && !err)
		err = -errno;
	if (!err && rename(tmp, path) < 0)
		err = -errno;
	if (err) {
		unlink(tmp);
		return err;
	}
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}
