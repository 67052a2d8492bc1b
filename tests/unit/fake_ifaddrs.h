/* A hand-made getifaddrs() list for the tests of the candidate and MTU
 * rules: no namespace needed. Header-only: tests are separate programs that
 * include <cmocka.h> first. */
#pragma once
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <string.h>

struct fake_if {
	struct ifaddrs ifa;
	union {
		struct sockaddr_in s4;
		struct sockaddr_in6 s6;
	} a;
};

/* f: interface `name` with `flags` and one address (IPv6 if it has a ':'),
 * linked to next (NULL: the end of the list). */
static inline void fake(struct fake_if *f, struct fake_if *next, const char *name, unsigned flags,
			const char *addr)
{
	memset(f, 0, sizeof(*f));
	f->ifa.ifa_name = (char *)name;
	f->ifa.ifa_flags = flags;
	f->ifa.ifa_next = next ? &next->ifa : NULL;
	f->ifa.ifa_addr = (struct sockaddr *)&f->a;
	if (strchr(addr, ':')) {
		f->a.s6.sin6_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, addr, &f->a.s6.sin6_addr), 1);
	} else {
		f->a.s4.sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, addr, &f->a.s4.sin_addr), 1);
	}
}
