/* libFuzzer target: arbitrary bytes as a presence payload and as a direct
 * message (control/signal.c), and every payload that parses is rebuilt and
 * parsed again (the builder must accept what the parser accepts, and the
 * round trip must be stable). Accepted presences also go through the member
 * table. Must not crash, leak or read out of bounds.
 *
 *   ./fuzz_signal -max_total_time=60 CORPUS_DIR
 * (give a scratch directory first: libFuzzer writes new inputs into it)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/signalling/members.h"
#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sig_members *members;
	struct sig_presence p, p2;
	struct sig_message m, m2;
	char why[160], buf[SIG_MAX_PAYLOAD + 1], jid[16];
	int n;

	if (!members) {
		log_set_level(LOG_ERROR);
		members = sig_members_create();
	}
	if (sig_presence_parse((const char *)data, size, &p, why, sizeof(why)) == 0) {
		n = sig_presence_build(&p, buf, sizeof(buf));
		if (n <= 0 || sig_presence_parse(buf, (size_t)n, &p2, NULL, 0) ||
		    memcmp(&p, &p2, sizeof(p)))
			abort();
		/* A small rotating set of JIDs exercises add/change/conflict/remove. */
		snprintf(jid, sizeof(jid), "m%u@x/r", (unsigned)(size % 8));
		sig_members_update(members, jid, &p, why, sizeof(why));
		if (size % 3 == 0)
			sig_members_remove(members, jid);
		if (sig_members_count(members) > 64) {
			sig_members_mark_stale(members);
			sig_members_sweep_stale(members, NULL, NULL);
		}
	}
	if (sig_message_parse((const char *)data, size, &m, why, sizeof(why)) == 0) {
		n = sig_message_build(&m, buf, sizeof(buf));
		if (n <= 0 || sig_message_parse(buf, (size_t)n, &m2, NULL, 0))
			abort();
		if (m.type != m2.type || m.seq != m2.seq || m.ncand != m2.ncand ||
		    strcmp(m.reason, m2.reason))
			abort();
	}
	return 0;
}
