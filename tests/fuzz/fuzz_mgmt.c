/* libFuzzer target for the management socket's requests (control/mgmt/mgmt.c):
 * the input is what a client wrote, framed the way the server frames it (the
 * first line, or everything up to end of file; at most CTL_MGMT_REQ_MAX
 * bytes), answered by ctl_mgmt_respond against an instance with no workers
 * and no peers. Every answer must be one JSON object: the result, or
 * {"error": "..."} for anything malformed. Must not crash, leak or read out
 * of bounds (the request is copied to a buffer of exactly its length).
 *
 *   ./fuzz_mgmt -dict=tests/fuzz/fuzz_mgmt.dict CORPUS_DIR
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control/core/ctl.h"
#include "control/mgmt/mgmt.h"
#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ctl c; /* zeroed: what test_mgmt answers from */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int initialised;
	json_error_t e;

	if (!initialised) {
		log_set_level(LOG_ERROR);
		snprintf(c.backend.host_name, sizeof(c.backend.host_name), "ipopf");
		c.cfg.port = 5800;
		/* what ctl_create wires before the socket opens (the "xmpp"
		 * answer reads the TURN state through it) */
		ctl_core_disc_env(&c, &c.disc.env);
		initialised = 1;
	}
	if (size > CTL_MGMT_REQ_MAX)
		size = CTL_MGMT_REQ_MAX;
	const uint8_t *nl = memchr(data, '\n', size);
	if (!nl && size == CTL_MGMT_REQ_MAX)
		return 0; /* "request too long": never parsed */
	size_t len = nl ? (size_t)(nl - data) : size;
	char *line = malloc(len ? len : 1);
	if (!line)
		abort();
	memcpy(line, data, len);
	char *s = ctl_mgmt_respond(&c, line, len);
	free(line);
	if (!s)
		abort();
	json_t *o = json_loads(s, 0, &e);
	if (!json_is_object(o))
		abort();
	json_decref(o);
	free(s);
	return 0;
}
