/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* The export map's arena: nodes are bump-allocated from zeroed chunks
 * owned by the map (no malloc header per node) and all freed by
 * map_destroy.  Nothing allocated is ever freed before that: a node
 * replaced in the tree is retired in the arena, where lock-free readers
 * may still walk it (see map-int.h).  Allocation is serialized by the
 * map's lock; map_bytes reads the total without it.
 */

#include <config.h>

#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>

#include "storage/map-int.h"

/* Arena chunks: the first is CHUNK_MIN bytes, so that a small map
 * stays small, each next one twice the last up to CHUNK_MAX.
 */
#define CHUNK_MIN 4096
#define CHUNK_MAX 65536
#define ARENA_ALIGN 8

/* A chunk of the arena; nodes follow the header. */
struct chunk {
  struct chunk *next;           /* the previously allocated chunk */
};

/* The sizes are multiples of ARENA_ALIGN, so each node leaves the next
 * one aligned (calloc aligns the chunk for anything).
 */
_Static_assert (_Alignof (struct n4) <= ARENA_ALIGN
                && _Alignof (struct n16) <= ARENA_ALIGN
                && _Alignof (struct leaf) <= ARENA_ALIGN
                && _Alignof (struct top) <= ARENA_ALIGN
                && sizeof (struct top) % ARENA_ALIGN == 0
                && sizeof (struct chunk) % ARENA_ALIGN == 0,
                "the arena must align every node");

void
map_arena_init (struct arena *a)
{
  a->chunks = NULL;
  a->cursor = NULL;
  a->left = 0;
  a->chunk_size = CHUNK_MIN;
  atomic_init (&a->bytes, 0);
}

/* Add a fresh zeroed chunk.  => map's lock held.
 * => returns 0, or -1 with errno ENOMEM (nothing changed).
 */
static int
arena_grow (struct arena *a)
{
  struct chunk *c = calloc (1, a->chunk_size);

  if (c == NULL) {
    errno = ENOMEM;
    return -1;
  }
  c->next = a->chunks;
  a->chunks = c;
  a->cursor = (unsigned char *) (c + 1);
  a->left = a->chunk_size - sizeof *c;
  atomic_fetch_add_explicit (&a->bytes, a->chunk_size, memory_order_relaxed);
  if (a->chunk_size < CHUNK_MAX)
    a->chunk_size *= 2;
  return 0;
}

/* The tail of a chunk too small for the request is left unused. */
void *
map_arena_alloc (struct arena *a, size_t size)
{
  void *p;

  if (size > a->left && arena_grow (a) == -1)
    return NULL;
  p = a->cursor;
  a->cursor += size;
  a->left -= size;
  return p;
}

void
map_arena_free (struct arena *a)
{
  struct chunk *c, *next;

  for (c = a->chunks; c != NULL; c = next) {
    next = c->next;
    free (c);
  }
}

size_t
map_bytes (const struct map *m)
{
  return sizeof *m + atomic_load_explicit (&m->arena.bytes,
                                           memory_order_relaxed);
}
