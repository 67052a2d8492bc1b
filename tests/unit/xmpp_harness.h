/* Harness of the XMPP session tests (test_xmpp_*.c): a real prosody that the
 * test starts itself (127.0.0.1, a free port, a temporary directory, a test
 * CA and a localhost certificate made with openssl), ctl_xmpp clients driven
 * by one epoll loop the way the control core drives them (ctl_xmpp_poll +
 * ctl_xmpp_fd generations), and a raw libstrophe client to send what
 * ctl_xmpp never would. prosody is killed by PID on every exit path (and
 * dies with us through PR_SET_PDEATHSIG); the temporary directory is
 * removed (kept with TEST_XMPP_KEEP=1).
 */
#pragma once
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strophe.h>
#include <sys/types.h>
#include <cmocka.h>

#include "control/signalling/xmpp.h"

#define ROOM	 "overlay@conference.localhost"
#define PASSWORD "s3cret-Pass"

extern char dir[64];
extern char cfg_path[128], log_path[128], ca_path[128], other_ca_path[128];
extern uint16_t port;
extern pid_t prosody_pid;
extern const struct ctl_xmpp_callbacks callbacks; /* records into struct client */

#define MAXM 8

struct client {
	const char *name;
	struct ctl_xmpp *x;
	struct sig_presence self;
	bool ever_online;
	enum ctl_xmpp_state last_state;
	unsigned nmembers;
	struct {
		char jid[160];
		struct sig_presence p;
	} members[MAXM];
	unsigned available_calls, unavailable_calls, revoked_calls;
	char last_gone[160], last_revoked[160];
	unsigned nmsg;
	char msg_from[160];
	struct sig_message msg;
	uint64_t seen_gen;
};

typedef bool (*cond_fn)(struct client **cs, unsigned n, void *arg);

struct raw {
	xmpp_ctx_t *ctx;
	xmpp_conn_t *conn;
	bool up;
};

uint64_t now_ms(void);
void prosody_kill(int sig);
void prosody_start(void);
void cleanup(void);
int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void write_config(bool tls);
bool port_open(void);
void register_user(const char *user);
/* Makes the CA and prosody's config, registers the users, starts prosody. */
int harness_setup(const char *const *users, unsigned nusers);
int group_teardown(void **state);
/* The main of every XMPP test program: skips (77) without prosody/openssl,
 * sets the log level (TEST_XMPP_VERBOSE) and filter (TEST_FILTER), starts
 * prosody with the users and runs the group. */
int harness_main(const char *group, const char *const *users, unsigned nusers,
		 const struct CMUnitTest *tests, size_t ntests);
#define HARNESS_MAIN(users, tests)                                                        \
	harness_main(__FILE__, users, sizeof(users) / sizeof(users[0]), tests,          \
		     sizeof(tests) / sizeof(tests[0]))

struct ctl_xmpp_config base_config(const char *user, enum ctl_xmpp_group group);
void client_init(struct client *c, const char *name, const struct ctl_xmpp_config *cfg,
		 unsigned host);
void client_fini(struct client *c);
bool pump(struct client **cs, unsigned n, unsigned ms, cond_fn cond, void *arg);
bool all_see_all(struct client **cs, unsigned n, void *arg);
bool all_online(struct client **cs, unsigned n, void *arg);
bool failures_at_least(struct client **cs, unsigned n, void *arg);
bool first_available_at_least(struct client **cs, unsigned n, void *arg);
bool rejected_at_least(struct client **cs, unsigned n, void *arg);
bool members_eq(struct client **cs, unsigned n, void *arg);
bool first_members_eq(struct client **cs, unsigned n, void *arg);
bool got_message(struct client **cs, unsigned n, void *arg);
void assert_sees(struct client *c, struct client **cs, unsigned n);
const char *member_jid_of(struct client *c, const struct client *other);
void make_con(struct sig_message *m, enum sig_msg_type type, const struct client *from,
	      const struct client *to);
void assert_same_message(const struct sig_message *a, const struct sig_message *b);

void raw_open(struct raw *r, const char *user);
void raw_open_as(struct raw *r, const char *user, const char *resource);
void raw_send(struct raw *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void raw_run(struct raw *r, unsigned ms);
void raw_close(struct raw *r);
void roster_subscribe(const char *user, const char *contact);
