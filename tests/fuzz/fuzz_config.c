/* libFuzzer target: arbitrary bytes as a config file, and jsonpos lookups on
 * the same bytes. Must not crash, leak or read out of bounds.
 *
 * The fuzz build (-Dfuzz=true) instruments the libraries as well, so
 * coverage and ASan reach the loader and the scanner.
 *
 *   ./fuzz_config -max_total_time=60 CORPUS_DIR tests/data
 * (give a scratch directory first: libFuzzer writes new inputs into it)
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control/config/config.h"
#include "control/config/jsonpos.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const paths[] = {
    "CFx",
    "TincanSender.svpn_port",
    "ipopd.peers[1].sa_out.key",
    "ipopd.peers[0]",
    "[0]",
    "a.b[2].c",
    "a\"b.c",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int initialised;
	struct ipop_config c;
	char err[512];

	if (!initialised) {
		log_set_level(LOG_ERROR); /* warnings would only slow the fuzzer down */
		initialised = 1;
	}

	/* jsonpos on the exact bytes: any overread hits the redzone. */
	char *raw = malloc(size ? size : 1);
	if (!raw)
		return 0;
	memcpy(raw, data, size);
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		(void)jsonpos_line(raw, size, paths[i]);
	/* The input's own first line as a path, to reach odd segment syntax. */
	if (size > 0 && size < 128) {
		char path[128];
		size_t n = 0;
		while (n < size && data[n] && data[n] != '\n')
			n++;
		memcpy(path, data, n);
		path[n] = 0;
		(void)jsonpos_line(raw, size, path);
	}
	free(raw);

	/* The loader takes a C string. A name without a directory keeps
	 * key_file lookups relative to the working directory. */
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = 0;
	if (ipop_config_load_string("fuzz.json", text, NULL, &c, err, sizeof(err)) == 0) {
		FILE *devnull = fopen("/dev/null", "w");
		if (devnull) {
			ipop_config_print(&c, devnull);
			fclose(devnull);
		}
		ipop_config_free(&c);
	} else if (!memchr(err, 0, sizeof(err)) || strchr(err, '\n')) {
		abort(); /* the message must be one terminated line */
	}
	free(text);
	return 0;
}
