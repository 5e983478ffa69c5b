// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * libFuzzer: /proc/net/tcp{,6} lines. The first byte picks the family.
 * procnet_parse_buf gets exactly the bytes (ASan sees any read past them),
 * procnet_parse_line the same bytes NUL-terminated; both must agree, and
 * an accepted row must hold what procnet.h promises.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "procnet.h"

static int same(const struct tt_sockrow *a, const struct tt_sockrow *b)
{
	return a->family == b->family && !memcmp(a->laddr, b->laddr, 16) &&
	       !memcmp(a->raddr, b->raddr, 16) && a->lport == b->lport && a->rport == b->rport &&
	       a->state == b->state && a->rxq == b->rxq && a->txq == b->txq &&
	       a->inode == b->inode && a->uid == b->uid;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tt_sockrow a, b;
	unsigned family;
	char *line, *z;
	int ra, rb;

	if (size < 1)
		return 0;
	family = (data[0] & 1) ? AF_INET6 : AF_INET;
	size--;
	/* a copy of exactly size bytes: the fuzzer's buffer has one more */
	line = malloc(size ? size : 1);
	z = malloc(size + 1);
	if (!line || !z)
		abort();
	memcpy(line, data + 1, size);
	memcpy(z, data + 1, size);
	z[size] = '\0';
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	ra = procnet_parse_buf(line, size, family, &a);
	rb = procnet_parse_line(z, family, &b);
	if (!memchr(line, '\0', size) && (ra != rb || (!ra && !same(&a, &b))))
		abort();
	if (!ra && (a.family != family || a.lport > 65535 || a.rport > 65535 ||
		    a.state < 1 || a.state > 12))
		abort();
	if (ra && ra != -22)
		abort();
	free(line);
	free(z);
	return 0;
}
