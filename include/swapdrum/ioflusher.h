/* swapdrum: the kernel's IO_FLUSHER state for the server's threads
 * (public engine API).
 *
 * A thread that serves block I/O and allocates memory while it does
 * (any NBD server's) can deadlock when its host is short of memory:
 * the allocation reclaims by writing pages out, possibly to the very
 * device the thread serves, or is throttled on other devices' dirty
 * pages.  PR_SET_IO_FLUSHER (Linux 5.6) marks a thread so that its
 * allocations never recurse into I/O (PF_MEMALLOC_NOIO) and it is not
 * throttled on others' dirty pages (PF_LOCAL_THROTTLE), as the
 * kernel's own loop and NBD paths are.  The state is per thread and
 * inherited by the threads it creates; it needs CAP_SYS_RESOURCE.
 * docs/operator-guide.md, "When a client shares the server's host".
 */

#ifndef SWAPDRUM_IOFLUSHER_H
#define SWAPDRUM_IOFLUSHER_H

#include <stdbool.h>

/* Put the calling thread, and every thread it creates from now on, in
 * the IO_FLUSHER state, unless it is in it already (set by a launcher:
 * *already then true).  Not reported.
 * => returns 0; or -1 with errno set: EPERM (no CAP_SYS_RESOURCE),
 *    EINVAL (a kernel before 5.6), ENOSYS (not Linux).
 */
extern int sd_io_flusher (bool *already);

#endif /* SWAPDRUM_IOFLUSHER_H */
