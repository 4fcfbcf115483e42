/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* memtest: the VM test's memory test.  Runs in the guest, built with
 * gcc -static by tests/vm/run-vm-test.
 *
 *   memtest MIB SEED [sync]
 *
 * Allocates MIB MiB (more than the guest has, so that the kernel must
 * swap), in chunks, and fills every page with a pattern that only the
 * page's address and a seed determine.  Then two passes: the first
 * checks every page and rewrites it with a second seed (fresh writes
 * while the host reshapes the pool), the second checks the second
 * seed.  A page that differs is counted as bad, never repaired.  With
 * "sync", it also stops after the fill and after the first pass, says
 * "MEMTEST wait fill" (or "verify1") and reads a line from stdin (the
 * console) before it goes on: the harness answers when its work for
 * that point (reshaping the pool) is done.
 *
 * Everything goes to stdout (the guest's console), one line per event,
 * each starting with "MEMTEST ", for the harness to parse:
 *   MEMTEST start mib=300 seed=...
 *   MEMTEST progress PHASE MIB/TOTAL swap_used_mib=N
 *   MEMTEST phase PHASE done secs=S swap_used_mib=N
 *   MEMTEST swap DEVICE used_kib=N priority=P   (one per swap device,
 *                                               before each wait)
 *   MEMTEST wait PHASE
 *   MEMTEST bad page=ADDR word=I expected=X got=Y zero=0|1 phase=P
 *   MEMTEST result bad_pages=N pages=N swap_peak_mib=N pswpout_mib=N
 *                  pswpin_mib=N secs=S
 *   MEMTEST freed
 * It exits 0 if no page was bad, 1 if some were, 2 on any other
 * failure (also reported as "MEMTEST error ...").
 */

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PAGE_SIZE 4096
#define WORDS_PER_PAGE (PAGE_SIZE / sizeof (uint64_t))
#define CHUNK_SIZE ((size_t) 4 << 20)   /* allocation unit */
#define PROGRESS_MIB 32                 /* a progress line every ... */
#define MAX_REPORTED 20                 /* bad pages printed in full */

/* The memory under test: nchunks chunks of CHUNK_SIZE bytes. */
static uint64_t **chunks;
static size_t nchunks;

/* Bad pages found so far, over both passes. */
static uint64_t bad_pages;

/* Whether to wait for the host between passes ("sync"). */
static bool sync_host;

/* Largest swap use seen (SwapTotal - SwapFree), in KiB. */
static uint64_t swap_peak_kib;

static double
now (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The first word of the page at ADDR for SEED: a splitmix64 step, so
 * that neighbouring pages and seeds give unrelated values.
 */
static uint64_t
page_key (uintptr_t addr, uint64_t seed)
{
  uint64_t z = (uint64_t) addr ^ seed;

  z += UINT64_C (0x9e3779b97f4a7c15);
  z = (z ^ (z >> 30)) * UINT64_C (0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * UINT64_C (0x94d049bb133111eb);
  return z ^ (z >> 31);
}

/* Word I of a page whose key is KEY: differs at every index, so a
 * page shifted by a word, or another page's data, does not match.
 */
static inline uint64_t
page_word (uint64_t key, size_t i)
{
  return key ^ (i * UINT64_C (0xd6e8feb86659fd93));
}

/* Reads NAME's value (in kB) from /proc/meminfo; 0 if absent. */
static uint64_t
meminfo_kib (const char *name)
{
  char line[256];
  size_t len = strlen (name);
  uint64_t v = 0;
  FILE *fp = fopen ("/proc/meminfo", "r");

  if (fp == NULL)
    return 0;
  while (fgets (line, sizeof line, fp) != NULL)
    if (strncmp (line, name, len) == 0 && line[len] == ':') {
      v = strtoull (line + len + 1, NULL, 10);
      break;
    }
  fclose (fp);
  return v;
}

/* Reads counter NAME (in pages) from /proc/vmstat; 0 if absent. */
static uint64_t
vmstat_pages (const char *name)
{
  char key[128];
  unsigned long long v;
  uint64_t r = 0;
  FILE *fp = fopen ("/proc/vmstat", "r");

  if (fp == NULL)
    return 0;
  while (fscanf (fp, "%127s %llu", key, &v) == 2)
    if (strcmp (key, name) == 0) {
      r = v;
      break;
    }
  fclose (fp);
  return r;
}

/* Swap in use now, in MiB; also updates the peak. */
static uint64_t
swap_used_mib (void)
{
  uint64_t used = meminfo_kib ("SwapTotal") - meminfo_kib ("SwapFree");

  if (used > swap_peak_kib)
    swap_peak_kib = used;
  return used / 1024;
}

/* A swap-in that fails kills us with SIGBUS: say so on the console
 * (only async-signal-safe calls) rather than die silently.
 */
static void
on_sigbus (int sig)
{
  static const char msg[] =
    "MEMTEST error SIGBUS: a page could not be read back from swap\n";

  (void) sig;
  if (write (STDOUT_FILENO, msg, sizeof msg - 1) < 0)
    _exit (2);
  _exit (2);
}

/* Maps the memory under test, MIB MiB in chunks.  Returns -1 (after
 * saying why) if the kernel refuses.
 */
static int
allocate (uint64_t mib)
{
  size_t i;

  nchunks = (mib << 20) / CHUNK_SIZE;
  chunks = calloc (nchunks, sizeof *chunks);
  if (chunks == NULL) {
    printf ("MEMTEST error calloc: %s\n", strerror (errno));
    return -1;
  }
  for (i = 0; i < nchunks; i++) {
    chunks[i] = mmap (NULL, CHUNK_SIZE, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (chunks[i] == MAP_FAILED) {
      printf ("MEMTEST error mmap chunk %zu: %s\n", i, strerror (errno));
      return -1;
    }
  }
  return 0;
}

/* Writes the pattern of SEED into the page P. */
static void
fill_page (uint64_t *p, uint64_t seed)
{
  uint64_t key = page_key ((uintptr_t) p, seed);
  size_t i;

  for (i = 0; i < WORDS_PER_PAGE; i++)
    p[i] = page_word (key, i);
}

/* Checks that page P holds the pattern of SEED; counts and reports it
 * if not.  PHASE names the pass in the report.
 */
static void
check_page (const uint64_t *p, uint64_t seed, const char *phase)
{
  uint64_t key = page_key ((uintptr_t) p, seed);
  size_t i, first = WORDS_PER_PAGE, nbad = 0;
  bool zero = true;

  for (i = 0; i < WORDS_PER_PAGE; i++) {
    if (p[i] != page_word (key, i)) {
      if (first == WORDS_PER_PAGE)
        first = i;
      nbad++;
    }
    if (p[i] != 0)
      zero = false;
  }
  if (nbad == 0)
    return;
  if (bad_pages++ < MAX_REPORTED)
    printf ("MEMTEST bad page=%p word=%zu expected=%016" PRIx64
            " got=%016" PRIx64 " bad_words=%zu zero=%d phase=%s\n",
            (void *) p, first, page_word (key, first), p[first], nbad,
            zero, phase);
}

/* One pass over every page: check the pattern of CHECK_SEED unless
 * it is 0, then write the pattern of FILL_SEED unless it is 0.
 * Prints progress lines and a closing "phase ... done" line.
 */
static void
pass (const char *phase, uint64_t check_seed, uint64_t fill_seed)
{
  const size_t pages_per_chunk = CHUNK_SIZE / PAGE_SIZE;
  const size_t chunks_per_line = ((size_t) PROGRESS_MIB << 20) / CHUNK_SIZE;
  double start = now ();
  size_t c, j;

  for (c = 0; c < nchunks; c++) {
    for (j = 0; j < pages_per_chunk; j++) {
      uint64_t *p = chunks[c] + j * WORDS_PER_PAGE;

      if (check_seed != 0)
        check_page (p, check_seed, phase);
      if (fill_seed != 0)
        fill_page (p, fill_seed);
    }
    if ((c + 1) % chunks_per_line == 0)
      printf ("MEMTEST progress %s %zu/%zu swap_used_mib=%" PRIu64 "\n",
              phase, (c + 1) * CHUNK_SIZE >> 20, nchunks * CHUNK_SIZE >> 20,
              swap_used_mib ());
  }
  printf ("MEMTEST phase %s done secs=%.1f swap_used_mib=%" PRIu64 "\n",
          phase, now () - start, swap_used_mib ());
}

/* What each swap device holds now (/proc/swaps: Filename Type Size
 * Used Priority): with several devices the host sees how the kernel
 * spread the pages.
 */
static void
print_swaps (void)
{
  FILE *f = fopen ("/proc/swaps", "r");
  char line[256], dev[128];
  unsigned long long size, used;
  int prio;

  if (f == NULL)
    return;
  while (fgets (line, sizeof line, f) != NULL)
    if (sscanf (line, "%127s %*s %llu %llu %d", dev, &size, &used,
                &prio) == 4)
      printf ("MEMTEST swap %s used_kib=%llu priority=%d\n",
              dev, used, prio);
  fclose (f);
}

/* With "sync": tells the host that the pass NAME is over and waits
 * for its answer, one line on stdin (any line; EOF goes on too).
 */
static void
wait_host (const char *name)
{
  char line[64];

  if (!sync_host)
    return;
  print_swaps ();
  printf ("MEMTEST wait %s\n", name);
  if (fgets (line, sizeof line, stdin) == NULL)
    clearerr (stdin);
}

int
main (int argc, char *argv[])
{
  uint64_t mib, seed1, seed2, out0, in0;
  double start = now ();

  if (argc < 3 || argc > 4 || (argc == 4 && strcmp (argv[3], "sync") != 0)) {
    fprintf (stderr, "usage: memtest MIB SEED [sync]\n");
    return 2;
  }
  sync_host = argc == 4;
  mib = strtoull (argv[1], NULL, 10);
  seed1 = strtoull (argv[2], NULL, 0) | 1;   /* 0 means "no seed" */
  seed2 = page_key (0, seed1) | 1;
  if (mib == 0 || mib > (1 << 20)) {
    fprintf (stderr, "memtest: MIB out of range\n");
    return 2;
  }
  setvbuf (stdout, NULL, _IOLBF, 0);
  signal (SIGBUS, on_sigbus);

  out0 = vmstat_pages ("pswpout");
  in0 = vmstat_pages ("pswpin");
  printf ("MEMTEST start mib=%" PRIu64 " seed=%#" PRIx64 "\n", mib, seed1);
  if (allocate (mib) == -1)
    return 2;

  pass ("fill", 0, seed1);
  wait_host ("fill");
  pass ("verify1", seed1, seed2);
  wait_host ("verify1");
  pass ("verify2", seed2, 0);

  printf ("MEMTEST result bad_pages=%" PRIu64 " pages=%zu"
          " swap_peak_mib=%" PRIu64 " pswpout_mib=%" PRIu64
          " pswpin_mib=%" PRIu64 " secs=%.1f\n",
          bad_pages, nchunks * (CHUNK_SIZE / PAGE_SIZE),
          swap_peak_kib / 1024,
          (vmstat_pages ("pswpout") - out0) * PAGE_SIZE >> 20,
          (vmstat_pages ("pswpin") - in0) * PAGE_SIZE >> 20,
          now () - start);
  for (size_t c = 0; c < nchunks; c++)
    munmap (chunks[c], CHUNK_SIZE);
  free (chunks);
  printf ("MEMTEST freed\n");
  return bad_pages == 0 ? 0 : 1;
}
