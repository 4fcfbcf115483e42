/* swapdrum: scope-bound cleanup, in the manner of nbdkit's
 * common/utils/cleanup.h.  Needs GCC or Clang.
 */

#ifndef SWAPDRUM_CLEANUP_H
#define SWAPDRUM_CLEANUP_H

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

static inline void
sd_cleanup_free (void *ptr)
{
  free (*(void **) ptr);
}
#define CLEANUP_FREE __attribute__ ((cleanup (sd_cleanup_free)))

static inline void
sd_cleanup_close (int *fd)
{
  if (*fd >= 0)
    close (*fd);
}
#define CLEANUP_CLOSE __attribute__ ((cleanup (sd_cleanup_close)))

static inline void
sd_cleanup_unlock (pthread_mutex_t **ptr)
{
  pthread_mutex_unlock (*ptr);
}
/* Lock a mutex until the end of the enclosing scope. */
#define SD_LOCK_FOR_SCOPE(mutex)                                        \
  __attribute__ ((cleanup (sd_cleanup_unlock)))                         \
  pthread_mutex_t *SD_UNIQUE (_lock) = (mutex);                         \
  pthread_mutex_lock (SD_UNIQUE (_lock))

#define SD_UNIQUE_CAT2(a, b) a##b
#define SD_UNIQUE_CAT(a, b) SD_UNIQUE_CAT2 (a, b)
#define SD_UNIQUE(name) SD_UNIQUE_CAT (name, __LINE__)

#endif /* SWAPDRUM_CLEANUP_H */
