/* Node identity: node.key is created on first use with mode 0600 (its
 * directory 0700), reloads to the same key, derives the RFC 7748 public key,
 * and every unsafe or malformed key file is refused with one line naming it.
 * The strict base64 codec: round trips, known values, every malformed form. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "control/link/identity.h"
#include "control/link/noise.h"

/* RFC 7748 section 6.1 */
static const uint8_t alice_priv[32] = {
    0x77, 0x07, 0x6d, 0x0a, 0x73, 0x18, 0xa5, 0x7d, 0x3c, 0x16, 0xc1, 0x72, 0x51, 0xb2, 0x66, 0x45,
    0xdf, 0x4c, 0x2f, 0x87, 0xeb, 0xc0, 0x99, 0x2a, 0xb1, 0x77, 0xfb, 0xa5, 0x1d, 0xb9, 0x2c, 0x2a};
static const uint8_t alice_pub[32] = {
    0x85, 0x20, 0xf0, 0x09, 0x89, 0x30, 0xa7, 0x54, 0x74, 0x8b, 0x7d, 0xdc, 0xb4, 0x3e, 0xf7, 0x5a,
    0x0d, 0xbf, 0x3a, 0x0d, 0x26, 0x38, 0x1a, 0xf4, 0xeb, 0xa4, 0xa9, 0x8e, 0xaa, 0x9b, 0x4e, 0x6a};
#define ALICE_PRIV_B64 "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo="
#define ALICE_PUB_B64  "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo="

#define assert_contains(hay, needle)                                                               \
	do {                                                                                       \
		if (!strstr((hay), (needle)))                                                      \
			fail_msg("\"%s\" does not contain \"%s\"", (hay), (needle));               \
	} while (0)

static char tmpdir[64];

static void remove_tree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[512];
	if (!d)
		return;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (unlink(path) && (errno == EISDIR || errno == EPERM))
			remove_tree(path);
	}
	closedir(d);
	rmdir(dir);
}

static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/ipopd-test-identity-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	remove_tree(tmpdir);
	return 0;
}

/* A fresh state dir path for one case: <tmpdir>/<name>. */
static void state_dir(const char *name, char *out, size_t len)
{
	snprintf(out, len, "%s/%s", tmpdir, name);
}

static void write_key(const char *dir, const char *content, size_t len, mode_t mode)
{
	char path[512];
	assert_true(mkdir(dir, 0700) == 0 || errno == EEXIST);
	snprintf(path, sizeof(path), "%s/" IPOP_KEY_FILE, dir);
	unlink(path);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

/* Loading dir must fail with ret and a one-line message naming node.key and
 * containing also. */
static void expect_refused(const char *dir, int ret, const char *also)
{
	struct ipop_identity id;
	char err[512], path[512];
	memset(&id, 0xa5, sizeof(id));
	assert_int_equal(ipop_identity_load(dir, &id, err, sizeof(err)), ret);
	snprintf(path, sizeof(path), "%s/" IPOP_KEY_FILE ": ", dir);
	if (strncmp(err, path, strlen(path)))
		fail_msg("\"%s\" does not start with \"%s\"", err, path);
	assert_null(strchr(err, '\n'));
	if (also)
		assert_contains(err, also);
	/* nothing of a key survives a failure */
	static const uint8_t zero[32];
	assert_memory_equal(id.priv, zero, 32);
}

/* ---- node.key ---------------------------------------------------------- */

static void test_create_and_reload(void **state)
{
	struct ipop_identity a, b;
	char dir[256], path[512], err[256] = "x", text[64];
	struct stat st;
	uint8_t pub[32];
	(void)state;

	/* two missing levels: mkdir -p, each 0700 */
	state_dir("new/state", dir, sizeof(dir));
	assert_int_equal(ipop_identity_load(dir, &a, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_int_equal(stat(dir, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0700);
	state_dir("new", path, sizeof(path));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	snprintf(path, sizeof(path), "%s/node.key", dir);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_size, IPOP_KEY_B64_LEN + 1);

	/* the file is the base64 private key and a newline, nothing else */
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	memset(text, 0, sizeof(text));
	assert_int_equal(fread(text, 1, sizeof(text) - 1, f), IPOP_KEY_B64_LEN + 1);
	fclose(f);
	assert_int_equal(text[IPOP_KEY_B64_LEN], '\n');
	text[IPOP_KEY_B64_LEN] = 0;
	uint8_t priv[32];
	assert_int_equal(ipop_key_from_base64(text, priv), 0);
	assert_memory_equal(priv, a.priv, 32);

	/* public key = X25519(priv, 9) */
	assert_int_equal(noise_pubkey_from_private(pub, a.priv), 0);
	assert_memory_equal(pub, a.pub, 32);
	assert_memory_not_equal(a.priv, a.pub, 32);

	/* no temporary left behind */
	DIR *d = opendir(dir);
	struct dirent *e;
	unsigned n = 0;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.' || strstr(e->d_name, "tmp") != NULL;
	closedir(d);
	assert_int_equal(n, 1);

	/* reload: the same key, the file untouched */
	assert_int_equal(ipop_identity_load(dir, &b, err, sizeof(err)), 0);
	assert_memory_equal(a.priv, b.priv, 32);
	assert_memory_equal(a.pub, b.pub, 32);

	/* another directory, another key */
	struct ipop_identity c;
	state_dir("other", dir, sizeof(dir));
	assert_int_equal(ipop_identity_load(dir, &c, err, sizeof(err)), 0);
	assert_memory_not_equal(a.priv, c.priv, 32);
	assert_memory_not_equal(a.pub, c.pub, 32);

	ipop_identity_wipe(&a);
	static const uint8_t zero[32];
	assert_memory_equal(a.priv, zero, 32);
	assert_memory_equal(a.pub, b.pub, 32); /* the public half stays usable */
	ipop_identity_wipe(&b);
	ipop_identity_wipe(&c);
	ipop_identity_wipe(NULL);
}

/* A restrictive umask must not change the file's mode, and a permissive
 * one must not widen it. */
static void test_umask(void **state)
{
	struct ipop_identity id;
	char dir[256], path[512], err[256];
	struct stat st;
	(void)state;
	mode_t old = umask(0);
	state_dir("umask0", dir, sizeof(dir));
	assert_int_equal(ipop_identity_load(dir, &id, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/node.key", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	umask(old);
	ipop_identity_wipe(&id);
}

static void test_rfc7748_vector(void **state)
{
	struct ipop_identity id;
	char dir[256], err[256];
	(void)state;
	state_dir("alice", dir, sizeof(dir));
	write_key(dir, ALICE_PRIV_B64 "\n", IPOP_KEY_B64_LEN + 1, 0600);
	assert_int_equal(ipop_identity_load(dir, &id, err, sizeof(err)), 0);
	assert_memory_equal(id.priv, alice_priv, 32);
	assert_memory_equal(id.pub, alice_pub, 32);
	char b64[IPOP_KEY_B64_LEN + 1];
	ipop_key_to_base64(id.pub, b64);
	assert_string_equal(b64, ALICE_PUB_B64);
	ipop_identity_wipe(&id);

	/* without the final newline (printf '%s' KEY > node.key), and mode 0400 */
	write_key(dir, ALICE_PRIV_B64, IPOP_KEY_B64_LEN, 0400);
	assert_int_equal(ipop_identity_load(dir, &id, err, sizeof(err)), 0);
	assert_memory_equal(id.pub, alice_pub, 32);
	ipop_identity_wipe(&id);
}

static void test_refusals(void **state)
{
	char dir[256], path[512], target[512];
	(void)state;
	state_dir("bad", dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/node.key", dir);

	/* permissions: any group/other bit */
	write_key(dir, ALICE_PRIV_B64 "\n", IPOP_KEY_B64_LEN + 1, 0644);
	expect_refused(dir, -EPERM, "expected mode 0600 or stricter, got 0644");
	write_key(dir, ALICE_PRIV_B64 "\n", IPOP_KEY_B64_LEN + 1, 0640);
	expect_refused(dir, -EPERM, "got 0640");
	write_key(dir, ALICE_PRIV_B64 "\n", IPOP_KEY_B64_LEN + 1, 0604);
	expect_refused(dir, -EPERM, "got 0604");
	write_key(dir, ALICE_PRIV_B64 "\n", IPOP_KEY_B64_LEN + 1, 0602);
	expect_refused(dir, -EPERM, "got 0602");

	/* a symlink, even to a good file */
	unlink(path);
	snprintf(target, sizeof(target), "%s/real.key", tmpdir);
	write_key(dir, ALICE_PRIV_B64 "\n", IPOP_KEY_B64_LEN + 1, 0600);
	assert_int_equal(rename(path, target), 0);
	assert_int_equal(symlink(target, path), 0);
	expect_refused(dir, -ELOOP, "symbolic link");
	unlink(path);
	/* a dangling symlink is not "missing": no key is created through it */
	assert_int_equal(symlink("/nonexistent/ipopd-test", path), 0);
	expect_refused(dir, -ELOOP, "symbolic link");
	unlink(path);

	/* not a regular file */
	assert_int_equal(mkdir(path, 0700), 0);
	expect_refused(dir, -EINVAL, "expected a regular file, got a directory");
	rmdir(path);
	assert_int_equal(mkfifo(path, 0600), 0);
	expect_refused(dir, -EINVAL, "special file");
	unlink(path);

	/* wrong content: never echoed */
	static const struct {
		const char *text;
		const char *what;
	} bad[] = {
	    {"", "got 0 characters"},
	    {"\n", "got 0 characters"},
	    {"dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo\n", "got 43 characters"},
	    {"dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCoA=\n", "got 45 characters"},
	    {"dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCoA\n", "got 44 characters"}, /* no pad */
	    {"dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25L*o=\n", "got 44 characters"}, /* alphabet */
	    {"dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCp=\n", "got 44 characters"}, /* bits */
	    {"dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=\n\n", "got 45 characters"},
	    {"dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo= \n", "got 45 characters"},
	    {"dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=\r\n", "got 45 characters"},
	    {" dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=\n", "got 45 characters"},
	    {"dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=\nextra line here\n", "got at least"},
	    {"dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=\nX", "got 46 characters"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_key(dir, bad[i].text, strlen(bad[i].text), 0600);
		expect_refused(dir, -EINVAL, bad[i].what);
		struct ipop_identity id;
		char err[512];
		assert_int_equal(ipop_identity_load(dir, &id, err, sizeof(err)), -EINVAL);
		assert_contains(err, "expected one base64 private key");
		assert_null(strstr(err, "dwdtCnMY"));
	}
	/* NUL inside the 44 characters */
	write_key(dir, "dwdtCnMYpX08FsFyUbJm\0d9ML4frwJkqsXf7pR25LCo=\n", IPOP_KEY_B64_LEN + 1,
		  0600);
	expect_refused(dir, -EINVAL, "base64");
	/* the refused file is left alone (no silent regeneration) */
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, IPOP_KEY_B64_LEN + 1);
}

static void test_state_dir_refusals(void **state)
{
	struct ipop_identity id;
	char dir[256], err[512];
	(void)state;

	/* a file where the directory should be */
	state_dir("plainfile", dir, sizeof(dir));
	int fd = open(dir, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(ipop_identity_load(dir, &id, err, sizeof(err)), -ENOTDIR);
	assert_contains(err, "plainfile");
	char sub[300];
	snprintf(sub, sizeof(sub), "%s/below", dir);
	assert_true(ipop_identity_load(sub, &id, err, sizeof(err)) < 0);
	assert_contains(err, "plainfile");

	/* a directory others may write (someone could swap node.key) */
	state_dir("worldwritable", dir, sizeof(dir));
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(chmod(dir, 0777), 0);
	assert_int_equal(ipop_identity_load(dir, &id, err, sizeof(err)), -EPERM);
	assert_contains(err, "writable only by its owner");
	assert_int_equal(chmod(dir, 0755), 0); /* readable by others is fine */
	assert_int_equal(ipop_identity_load(dir, &id, err, sizeof(err)), 0);
	ipop_identity_wipe(&id);

	/* owned by another user */
	if (geteuid() == 0) {
		state_dir("foreign", dir, sizeof(dir));
		assert_int_equal(mkdir(dir, 0700), 0);
		assert_int_equal(chown(dir, 65534, 65534), 0);
		assert_int_equal(ipop_identity_load(dir, &id, err, sizeof(err)), -EPERM);
		assert_contains(err, "uid 65534");
	}

	/* bad arguments */
	assert_int_equal(ipop_identity_load(NULL, &id, err, sizeof(err)), -EINVAL);
	assert_int_equal(ipop_identity_load("", &id, err, sizeof(err)), -ENAMETOOLONG);
	char longdir[5000];
	memset(longdir, 'a', sizeof(longdir) - 1);
	longdir[0] = '/';
	longdir[sizeof(longdir) - 1] = 0;
	assert_int_equal(ipop_identity_load(longdir, &id, err, sizeof(err)), -ENAMETOOLONG);
	/* err may be absent */
	assert_int_equal(ipop_identity_load(NULL, &id, NULL, 0), -EINVAL);
}

/* Several processes creating the key at once end up with one key. */
static void test_concurrent_create(void **state)
{
	char dir[256];
	int pipes[4][2];
	pid_t pids[4];
	uint8_t pubs[4][32];
	(void)state;
	state_dir("race", dir, sizeof(dir));
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pipe(pipes[i]), 0);
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			struct ipop_identity id;
			char err[256];
			if (ipop_identity_load(dir, &id, err, sizeof(err)))
				_exit(1);
			_exit(write(pipes[i][1], id.pub, 32) == 32 ? 0 : 1);
		}
		close(pipes[i][1]);
	}
	for (int i = 0; i < 4; i++) {
		int status;
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
		assert_int_equal(read(pipes[i][0], pubs[i], 32), 32);
		close(pipes[i][0]);
	}
	struct ipop_identity id;
	char err[256];
	assert_int_equal(ipop_identity_load(dir, &id, err, sizeof(err)), 0);
	for (int i = 0; i < 4; i++)
		assert_memory_equal(pubs[i], id.pub, 32);
	ipop_identity_wipe(&id);
}

/* ---- base64 ------------------------------------------------------------ */

static void test_base64_known(void **state)
{
	char b64[IPOP_KEY_B64_LEN + 1];
	uint8_t k[32], out[32];
	(void)state;

	ipop_key_to_base64(alice_priv, b64);
	assert_string_equal(b64, ALICE_PRIV_B64);
	memset(k, 0, 32);
	ipop_key_to_base64(k, b64);
	assert_string_equal(b64, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
	memset(k, 0xff, 32);
	ipop_key_to_base64(k, b64);
	assert_string_equal(b64, "//////////////////////////////////////////8=");
	for (int i = 0; i < 32; i++)
		k[i] = (uint8_t)i;
	ipop_key_to_base64(k, b64);
	assert_string_equal(b64, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
	/* every character of the alphabet, both ways */
	for (int i = 0; i < 32; i += 3) {
		k[i] = 0xfb;
		if (i + 1 < 32)
			k[i + 1] = 0xef;
		if (i + 2 < 32)
			k[i + 2] = 0xbe;
	}
	ipop_key_to_base64(k, b64);
	assert_string_equal(b64, "++++++++++++++++++++++++++++++++++++++++++8=");
	assert_int_equal(ipop_key_from_base64(b64, out), 0);
	assert_memory_equal(out, k, 32);

	assert_int_equal(ipop_key_from_base64(ALICE_PUB_B64, out), 0);
	assert_memory_equal(out, alice_pub, 32);
	assert_int_equal(ipop_key_from_base64("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", out),
			 0);
	for (int i = 0; i < 32; i++)
		assert_int_equal(out[i], i);
}

static void test_base64_round_trip(void **state)
{
	char b64[IPOP_KEY_B64_LEN + 1];
	uint8_t k[32], out[32];
	unsigned seen[64] = {0};
	(void)state;
	srand(7);
	for (int n = 0; n < 20000; n++) {
		for (int i = 0; i < 32; i++)
			k[i] = (uint8_t)rand();
		ipop_key_to_base64(k, b64);
		assert_int_equal(strlen(b64), IPOP_KEY_B64_LEN);
		assert_int_equal(b64[43], '=');
		for (int i = 0; i < 43; i++) {
			const char *alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
					    "0123456789+/";
			const char *p = strchr(alpha, b64[i]);
			assert_non_null(p);
			seen[p - alpha]++;
		}
		memset(out, 0, 32);
		assert_int_equal(ipop_key_from_base64(b64, out), 0);
		assert_memory_equal(out, k, 32);
	}
	for (int i = 0; i < 64; i++)
		assert_true(seen[i] > 0);
}

static void test_base64_malformed(void **state)
{
	uint8_t out[32], orig[32];
	char s[64];
	(void)state;
	memset(orig, 0x5a, 32);

#define BAD(str)                                                                                   \
	do {                                                                                       \
		memcpy(out, orig, 32);                                                             \
		assert_int_equal(ipop_key_from_base64((str), out), -EINVAL);                       \
		assert_memory_equal(out, orig, 32); /* untouched on failure */                     \
	} while (0)

	BAD("");
	BAD("=");
	BAD("dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo");	  /* 43, no pad */
	BAD("dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LC=");	  /* 43 */
	BAD("dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCoA");	  /* 44, no pad */
	BAD("dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo==");	  /* 45 */
	BAD("dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=\n");	  /* trailing newline */
	BAD("dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo= ");	  /* trailing space */
	BAD(" dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=");	  /* leading space */
	BAD("dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25L==");	  /* two pads */
	BAD("dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCp=");	  /* non-canonical bits */
	BAD("dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCr=");	  /* non-canonical bits */
	BAD("dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LC/=");	  /* non-canonical bits */
	BAD("dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo.");	  /* not '=' */
	BAD("dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR2=LCo=");	  /* pad inside */
	BAD("dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=AAAAA"); /* long */
	BAD(NULL);
	/* the URL-safe alphabet is a different encoding: refused */
	BAD("-wdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=");
	BAD("_wdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=");
	/* every byte that is not in the alphabet, at every position */
	for (int pos = 0; pos < 43; pos += 7) {
		for (int c = 1; c < 256; c++) {
			if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			    (c >= '0' && c <= '9') || c == '+' || c == '/')
				continue;
			snprintf(s, sizeof(s), "%s", ALICE_PRIV_B64);
			s[pos] = (char)c;
			BAD(s);
		}
	}
	assert_int_equal(ipop_key_from_base64(ALICE_PRIV_B64, NULL), -EINVAL);
	/* and the unmodified string is accepted: the cases above fail for their
	 * one change */
	assert_int_equal(ipop_key_from_base64(ALICE_PRIV_B64, out), 0);
#undef BAD
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_create_and_reload),  cmocka_unit_test(test_umask),
	    cmocka_unit_test(test_rfc7748_vector),     cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_state_dir_refusals), cmocka_unit_test(test_concurrent_create),
	    cmocka_unit_test(test_base64_known),       cmocka_unit_test(test_base64_round_trip),
	    cmocka_unit_test(test_base64_malformed),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
