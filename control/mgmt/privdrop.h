/* Least privilege after setup: once the TAP, the sockets, the bridge and
 * the routes are in place, ipopd switches to the account named by
 * ipopd.user and keeps one capability, CAP_NET_ADMIN (routes advertised by
 * members that join later, TAP and route teardown at exit). Everything else
 * goes: the other capabilities (effective, permitted, inheritable, ambient,
 * and the bounding set of the control thread), and no_new_privs is set.
 * Worker threads exist already: glibc applies setresuid to every thread, and
 * the kernel clears their capabilities then (keep-caps is set on the
 * control thread only), so workers run with none at all.
 *
 * Before the switch the files the process needs later are handed to that
 * account: the state directory and the files in it (node key, sequence
 * store: rekeys write there), every secret file the config read (key_file,
 * psk_file, xmpp_password_file: a reload reads them again), and the
 * management socket (group too, so the account's group may use ipopctl). They keep
 * their modes (0600/0700), so they stay readable only by the account. A
 * reload then re-reads the config as that account: the config must be
 * readable by it (ipopctl init writes it 0640 root:GROUP).
 */
#pragma once
#include <stddef.h>

struct ctl;

/* 0 or -errno with a message in err. Without ipopd.user it does nothing
 * (and says so once when running as root). */
int ctl_privdrop(struct ctl *c, char *err, size_t errlen);
