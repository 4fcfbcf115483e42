/* swapdrum: SD_NONNULL, a header's "must not be NULL" told to the
 * compiler.
 *
 *   extern int devspec_option (struct devspec *spec, const char *what,
 *                              const char *opt)
 *     SD_NONNULL (1, 2, 3);
 *
 * The numbers are the 1-based positions of the pointer parameters that
 * no caller may pass as NULL.  gcc then warns where a call passes a
 * literal NULL there, UBSan (-fsanitize=undefined) checks every call
 * at run time, and the optimiser may assume those parameters are not
 * NULL inside the function: a NULL check on one would be dropped, and
 * -Wnonnull-compare (in -Wall) flags such a check.  So mark only
 * parameters that really are never NULL: never one a function
 * "accepts NULL" for (the destructors), nor an opaque pointer passed
 * through.
 */

#ifndef SWAPDRUM_NONNULL_H
#define SWAPDRUM_NONNULL_H

#define SD_NONNULL(...) __attribute__ ((nonnull (__VA_ARGS__)))

#endif /* SWAPDRUM_NONNULL_H */
