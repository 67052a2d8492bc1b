/* Directories on the way to a path. */
#pragma once
#include <sys/types.h>

/* mkdir -p dir: missing parents are created with mode 0755, dir itself with
 * `mode`; an existing directory keeps the mode its owner gave it. 0 or
 * -errno (the path too long: -ENAMETOOLONG). */
int path_mkdir_p(const char *dir, mode_t mode);
/* The directories leading to the file `path` (its dirname, mkdir -p, 0755).
 * 0 or -errno. */
int path_mkdir_parents(const char *path);
