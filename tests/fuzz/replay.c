/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* The main of a fuzz harness built without libFuzzer (make check):
 *
 *   replay-NAME DIR|FILE...
 *
 * feeds every file of each DIR (in name order), and each FILE, to the
 * harness once.  A failed check in the harness aborts, so a crash or a
 * broken invariant that the fuzzer once found fails the test for good.
 * A missing DIR is skipped (git keeps no empty folder).
 */

#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

/* Read path whole.  => returns the bytes (malloc'd), *size set. */
static uint8_t *
slurp (const char *path, size_t *size)
{
  FILE *fp = fopen (path, "rb");
  uint8_t *buf = NULL;
  size_t cap = 0, n = 0, r;

  FUZZ_CHECK (fp != NULL, "%s: %m", path);
  do {
    if (n == cap) {
      cap = cap ? cap * 2 : 65536;
      buf = realloc (buf, cap);
      FUZZ_CHECK (buf != NULL, "%s: out of memory", path);
    }
    r = fread (buf + n, 1, cap - n, fp);
    n += r;
  } while (r > 0);
  FUZZ_CHECK (!ferror (fp), "%s: %m", path);
  fclose (fp);
  *size = n;
  return buf;
}

static void
run_file (const char *path)
{
  size_t size;
  uint8_t *data = slurp (path, &size);

  LLVMFuzzerTestOneInput (data, size);
  free (data);
}

static int
by_name (const struct dirent **a, const struct dirent **b)
{
  return strcmp ((*a)->d_name, (*b)->d_name);
}

/* => returns the number of inputs run. */
static unsigned
run_dir (const char *dir)
{
  struct dirent **names;
  int n, i;
  unsigned count = 0;

  n = scandir (dir, &names, NULL, by_name);
  if (n == -1) {
    FUZZ_CHECK (errno == ENOENT, "%s: %m", dir);
    return 0;
  }
  for (i = 0; i < n; i++) {
    char *path;
    struct stat st;

    FUZZ_CHECK (asprintf (&path, "%s/%s", dir, names[i]->d_name) != -1,
                "out of memory");
    if (names[i]->d_name[0] != '.' && stat (path, &st) == 0 &&
        S_ISREG (st.st_mode)) {
      run_file (path);
      count++;
    }
    free (path);
    free (names[i]);
  }
  free (names);
  return count;
}

int
main (int argc, char *argv[])
{
  unsigned total = 0;
  int i;

  if (argc < 2) {
    fprintf (stderr, "usage: %s DIR|FILE...\n", argv[0]);
    return 2;
  }
  LLVMFuzzerInitialize (&argc, &argv);
  for (i = 1; i < argc; i++) {
    struct stat st;
    unsigned n;

    if (stat (argv[i], &st) == 0 && S_ISREG (st.st_mode)) {
      run_file (argv[i]);
      n = 1;
    }
    else
      n = run_dir (argv[i]);
    printf ("%s: %s: %u inputs\n", argv[0], argv[i], n);
    total += n;
  }
  /* Replaying nothing would pass without testing anything. */
  FUZZ_CHECK (total > 0, "no input found");
  printf ("%s: %u inputs, all passed\n", argv[0], total);
  return 0;
}
