/* ipopctl's parts beyond the management-socket client (ipopctl.c):
 * `ipopctl init` (ipopctl_init.c) and finding the running instance when
 * neither -s nor -i is given (ipopctl_find.c). */
#pragma once
#include <stddef.h>
#include <jansson.h>

#define IPOPCTL_RUN_DIR "/run/ipopd"

/* ipopctl init NAME [options]: argc/argv start at "init". Exit status. */
int ipopctl_init_main(int argc, char **argv);

/* The run directory: $IPOPCTL_RUN_DIR or IPOPCTL_RUN_DIR. */
const char *ipopctl_run_dir(void);
/* Exactly one live socket in the run directory: its path in out, 0. None:
 * -ENOENT; several: -EEXIST, and they are listed on stderr. A message is
 * printed in both error cases. */
int ipopctl_find_instance(char *out, size_t outlen);

/* `ipopctl topology` (ipopctl_topology.c): the daemon's "topology" answer
 * as a table, or drawn as an SVG ring into path (0 or -errno, message
 * printed). */
void ipopctl_print_topology(const json_t *o);
int ipopctl_write_topology_svg(const json_t *o, const char *path);
