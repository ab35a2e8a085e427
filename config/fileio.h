/* Reading whole configuration files (YAML, PEM) without ever blocking on a
 * FIFO or a device, with a size cap. */
#ifndef SBC_CONFIG_FILEIO_H
#define SBC_CONFIG_FILEIO_H

#include <stddef.h>

#define SBC_FILE_MAX (256u << 20)

/* Returns a malloc'ed, NUL-terminated copy of a regular file, or NULL with
 * *err set to an errno value. */
char *sbc_read_file(const char *path, size_t *len, int *err);

#endif
