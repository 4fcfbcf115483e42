/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

#include <config.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pool/prio.h"

/* Index where a device of priority p joins the tail of its ring. */
static size_t
insert_point (const struct prio_list *pl, int p)
{
  size_t i = 0;

  while (i < pl->n && pl->devs[i]->priority <= p)
    i++;
  return i;
}

static ssize_t
index_of (const struct prio_list *pl, const struct swapdev *dev)
{
  size_t i;

  for (i = 0; i < pl->n; i++)
    if (pl->devs[i] == dev)
      return i;
  return -1;
}

int
prio_insert (struct prio_list *pl, struct swapdev *dev)
{
  size_t at;

  if (pl->n == pl->cap) {
    size_t cap = pl->cap ? pl->cap * 2 : 8;
    struct swapdev **devs = realloc (pl->devs, cap * sizeof *devs);
    if (devs == NULL)
      return -1;
    pl->devs = devs;
    pl->cap = cap;
  }
  at = insert_point (pl, dev->priority);
  memmove (&pl->devs[at + 1], &pl->devs[at],
           (pl->n - at) * sizeof pl->devs[0]);
  pl->devs[at] = dev;
  pl->n++;
  return 0;
}

void
prio_remove (struct prio_list *pl, struct swapdev *dev)
{
  ssize_t i = index_of (pl, dev);

  if (i == -1)
    return;
  memmove (&pl->devs[i], &pl->devs[i + 1],
           (pl->n - i - 1) * sizeof pl->devs[0]);
  pl->n--;
}

size_t
prio_group_end (const struct prio_list *pl, size_t i)
{
  int p = pl->devs[i]->priority;

  while (i < pl->n && pl->devs[i]->priority == p)
    i++;
  return i;
}

void
prio_rotate (struct prio_list *pl, struct swapdev *dev)
{
  ssize_t i = index_of (pl, dev);
  size_t end;

  if (i == -1)
    return;
  end = prio_group_end (pl, i);
  memmove (&pl->devs[i], &pl->devs[i + 1],
           (end - i - 1) * sizeof pl->devs[0]);
  pl->devs[end - 1] = dev;
}

void
prio_free (struct prio_list *pl)
{
  free (pl->devs);
  pl->devs = NULL;
  pl->n = pl->cap = 0;
}
