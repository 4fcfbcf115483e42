/* swapdrum: stopping without error replies (public engine API).
 *
 * After SIGTERM, nbdkit answers every request it reads with ESHUTDOWN
 * (its quit check, before any plugin sees the request), and a client's
 * kernel fails a request that gets an error reply: a swap page lost in
 * a running kernel.  A crash answers nothing, and a client that
 * reconnects (swapdrum-attach) sends the requests again.
 *
 * The drain gives SIGTERM and SIGINT the crash's face towards clients
 * and a clean shutdown inside: on the signal its thread shuts down
 * (shutdown(2), both ways) every connection accepted on a listening
 * socket of this process, so nothing more is read from or sent to a
 * client, and only then calls the host's quit function
 * (nbdkit_shutdown), which runs the host's ordinary shutdown: the
 * requests already in the engine finish and the pool closes clean.
 * docs/design.md, "Stopping", says why and what it costs.
 */

#ifndef SWAPDRUM_DRAIN_H
#define SWAPDRUM_DRAIN_H

struct drain;

/* Start the drain thread (with every signal blocked), then take over
 * SIGTERM and SIGINT, remembering their handlers.  On the first of
 * these signals the thread cuts the connections (drain_cut) and calls
 * quit, once; it cuts again after quit, for a connection accepted in
 * between.  keep is a listening socket whose connections stay (the
 * admin socket), or -1.  One drain per process.
 * => returns the drain, or NULL after reporting.
 */
extern struct drain *drain_start (void (*quit) (void), int keep);

/* Give SIGTERM and SIGINT back their handlers, stop the thread, free.
 * NULL is a no-op.
 */
extern void drain_stop (struct drain *d);

/* Shut down, both ways, every stream connection accepted on a
 * listening socket of this process other than keep: a connection is
 * one whose local address is a listener's (a unix path; for TCP the
 * port, and the address unless the listener's is the wildcard).
 * Sockets this process connected out (remote devices) have other
 * local addresses and stay.
 * => returns how many connections were shut down, or -1 after
 *    reporting.
 */
extern int drain_cut (int keep);

#endif /* SWAPDRUM_DRAIN_H */
