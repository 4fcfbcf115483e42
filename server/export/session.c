/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* Client connections' sessions on exports (swapdrum/session.h): the
 * one-host rule, and requests counted in the export's stats.
 */

#include <config.h>

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "devices/gate.h"
#include "export/export-int.h"
#include "export/exportset-int.h"
#include "swapdrum/cleanup.h"
#include "swapdrum/log.h"
#include "swapdrum/session.h"

struct session {
  struct exportset *set;
  struct xs_entry *e;           /* lives while a session is open */
};

void
session_host (const struct sockaddr *sa, int64_t uid, char *host,
              size_t len)
{
  const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *) sa;
  struct in_addr v4;

  switch (sa->sa_family) {
  case AF_INET:
    inet_ntop (AF_INET, &((const struct sockaddr_in *) sa)->sin_addr,
               host, len);
    break;
  case AF_INET6:
    if (IN6_IS_ADDR_V4MAPPED (&sin6->sin6_addr)) {
      memcpy (&v4, &sin6->sin6_addr.s6_addr[12], sizeof v4);
      inet_ntop (AF_INET, &v4, host, len);
    }
    else
      inet_ntop (AF_INET6, &sin6->sin6_addr, host, len);
    break;
  case AF_UNIX:
    snprintf (host, len, "local uid %" PRIi64, uid);
    break;
  default:
    snprintf (host, len, "address family %d", sa->sa_family);
  }
}

/* Refuse name: not served.  => caller holds set->lock. */
static void
not_served (const struct exportset *set, const char *name,
            const struct xs_entry *e)
{
  char list[256] = "";
  size_t i, len = 0;

  for (i = 0; i < set->n && len < sizeof list; i++)
    if (set->entries[i]->served)
      len += snprintf (list + len, sizeof list - len, "%s\"%s\"",
                       len ? ", " : "", export_name (set->entries[i]->exp));
  errno = ENOENT;
  sd_error ("export: %.200s%s: %s (the server has %s)", name,
            strlen (name) > 200 ? "..." : "",
            e && e->removing ? "being removed" :
            e ? "not served (not declared)" : "no such export", list);
}

/* Attach host to e.  => caller holds set->lock.  returns 0, or -1
 * after reporting.
 */
static int
attach (struct xs_entry *e, const char *host)
{
  const char *name = export_name (e->exp);

  if (e->host && !e->shared && strcmp (e->host, host) != 0) {
    errno = EBUSY;
    sd_error ("export: %s: attached from %s (%u connections): one host "
              "per export (shared=true lets several in); %s is refused",
              name, e->host, e->sessions, host);
    return -1;
  }
  if (e->host == NULL && (e->host = strdup (host)) == NULL) {
    sd_error ("export: %s: %m", name);
    return -1;
  }
  e->sessions++;
  return 0;
}

struct session *
session_open (struct exportset *set, const char *name, const char *host)
{
  SD_LOCK_FOR_SCOPE (&set->lock);
  struct xs_entry *e = xs_lookup (set, name);
  struct session *s;

  if (e == NULL || !e->served) {
    not_served (set, name, e);
    return NULL;
  }
  s = malloc (sizeof *s);
  if (s == NULL) {
    sd_error ("export: %s: %m", name);
    return NULL;
  }
  if (e->resizing) {
    free (s);
    errno = EBUSY;
    sd_error ("export: %s: being resized: try again in a moment", name);
    return NULL;
  }
  if (attach (e, host) == -1) {
    free (s);
    return NULL;
  }
  s->set = set;
  s->e = e;
  return s;
}

/* The last session of an export removed by force closed: free its
 * pages, unless a retried exportset_remove got there first.
 */
static void
finish_forced_removal (struct exportset *set, struct xs_entry *e)
{
  SD_LOCK_FOR_SCOPE (&set->admin);
  bool still = false;
  size_t i;

  pthread_mutex_lock (&set->lock);
  for (i = 0; i < set->n; i++)
    still |= set->entries[i] == e;
  pthread_mutex_unlock (&set->lock);
  if (still)
    xs_finish_removal (set, e, NULL, NULL, NULL);
}

void
session_close (struct session *s)
{
  struct exportset *set;
  struct xs_entry *e;
  bool finish;

  if (s == NULL)
    return;
  set = s->set;
  e = s->e;
  free (s);
  pthread_mutex_lock (&set->lock);
  if (--e->sessions == 0) {
    free (e->host);
    e->host = NULL;
  }
  finish = e->sessions == 0 && e->gone;
  pthread_mutex_unlock (&set->lock);
  if (finish)
    finish_forced_removal (set, e);
}

struct export *
session_export (const struct session *s)
{
  return s->e->exp;
}

/* Fail a request of a session whose export was removed by force. */
static int
removed (struct session *s, const char *what)
{
  errno = EIO;
  sd_error ("%s: export %s: removed by the admin", what,
            export_name (s->e->exp));
  return -1;
}

/* A request begins: its device I/O queues in the export's class at
 * the devices' gates (gate.h), and its time starts.
 */
struct req {
  int64_t t0;
  unsigned was;                 /* the thread's class before */
};

static struct req
begin (struct session *s)
{
  struct req r = { .was = gate_set_class (s->e->exp->tenant.id) };

  r.t0 = sd_now_ns ();
  return r;
}

/* Count a request that began as q and returned r; the thread's class
 * is restored.
 */
static int
counted (struct session *s, enum sd_io_kind kind, uint64_t bytes,
         struct req q, int r)
{
  iostats_add (&s->e->io, kind, bytes, sd_now_ns () - q.t0, r == -1);
  gate_set_class (q.was);
  return r;
}

int
session_pread (struct session *s, void *buf, uint64_t count_,
               uint64_t offset)
{
  struct req q;

  if (s->e->gone)
    return removed (s, "read");
  q = begin (s);
  return counted (s, SD_IO_READ, count_, q,
                  export_pread (s->e->exp, buf, count_, offset));
}

int
session_pwrite (struct session *s, const void *buf, uint64_t count_,
                uint64_t offset, bool fua)
{
  struct req q;

  if (s->e->gone)
    return removed (s, "write");
  q = begin (s);
  return counted (s, SD_IO_WRITE, count_, q,
                  export_pwrite (s->e->exp, buf, count_, offset, fua));
}

int
session_zero (struct session *s, uint64_t count_, uint64_t offset, bool fua)
{
  struct req q;

  if (s->e->gone)
    return removed (s, "zero");
  q = begin (s);
  return counted (s, SD_IO_TRIM, count_, q,
                  export_zero (s->e->exp, count_, offset, fua));
}

int
session_trim (struct session *s, uint64_t count_, uint64_t offset)
{
  struct req q;

  if (s->e->gone)
    return removed (s, "trim");
  q = begin (s);
  return counted (s, SD_IO_TRIM, count_, q,
                  export_trim (s->e->exp, count_, offset));
}

int
session_flush (struct session *s)
{
  struct req q;

  if (s->e->gone)
    return removed (s, "flush");
  q = begin (s);
  return counted (s, SD_IO_FLUSH, 0, q, export_flush (s->e->exp));
}
