/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* swapdrum-attach: the client's NBD device, /dev/nbdN. */

#ifndef SWAPDRUM_ATTACH_DEVICE_H
#define SWAPDRUM_ATTACH_DEVICE_H

#include <stdbool.h>
#include <stdint.h>

/* The index N of device PATH: its name, symlinks resolved, must be
 * nbdN.  (The device node need not exist: the kernel makes nbdN on
 * NBD_CMD_CONNECT if it has fewer.)  Returns 0, or -1 with the error
 * set.
 */
extern int attach_device_index (const char *path, uint32_t *index);

/* Whether /dev/nbdINDEX is connected: the kernel shows
 * /sys/block/nbdINDEX/pid from the connect until the device's
 * configuration is gone.
 */
extern bool attach_device_connected (uint32_t index);

#endif /* SWAPDRUM_ATTACH_DEVICE_H */
