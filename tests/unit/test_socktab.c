// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The socket table against a plain array written here: random inserts,
 * finds and deletes over growth must never lose, duplicate or mix up a
 * value; iteration sees each key once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "socktab.h"

struct val {
	uint64_t key;      /* its own key, to catch values moved to the wrong slot */
	uint32_t n;
};

static void test_basics(void **state)
{
	struct socktab *t = NULL;
	struct val *v;
	int created;

	(void)state;
	assert_int_equal(socktab_new(&t, sizeof(struct val), 0), 0);
	assert_null(socktab_find(t, 1));
	assert_null(socktab_find(t, 0));
	assert_null(socktab_insert(t, 0, &created));   /* key 0 is never stored */
	assert_int_equal(created, 0);
	v = socktab_insert(t, 5, &created);
	assert_non_null(v);
	assert_int_equal(created, 1);
	assert_int_equal(v->n, 0);   /* new values are zeroed */
	v->n = 3;
	v = socktab_insert(t, 5, &created);
	assert_int_equal(created, 0);
	assert_int_equal(v->n, 3);
	assert_int_equal(socktab_count(t), 1);
	socktab_delete(t, v);
	assert_null(socktab_find(t, 5));
	assert_int_equal(socktab_count(t), 0);
	assert_null(socktab_find(NULL, 5));
	socktab_free(&t);
	assert_null(t);
	socktab_free(&t);   /* NULL-safe */
}

static void test_random_vs_reference(void **state)
{
	enum { KEYS = 4096, STEPS = 300000 };
	static uint32_t ref[KEYS];   /* 0: absent, else the value */
	struct socktab *t = NULL;
	unsigned rnd = 7;
	size_t count = 0;

	(void)state;
	memset(ref, 0, sizeof(ref));
	assert_int_equal(socktab_new(&t, sizeof(struct val), 1), 0);
	for (int i = 0; i < STEPS; i++) {
		uint64_t k;
		unsigned id;
		struct val *v;
		int created;

		rnd = rnd * 1103515245u + 12345u;
		id = (rnd >> 8) % KEYS;
		/* keys shaped as the callers' are: sequential cookies, request ids */
		k = id % 5 ? 1 + id : (1ULL << 63) | id;
		rnd = rnd * 1103515245u + 12345u;
		if ((rnd >> 8) % 3 == 0) {
			v = socktab_find(t, k);
			if (!ref[id]) {
				assert_null(v);
				continue;
			}
			assert_non_null(v);
			socktab_delete(t, v);
			ref[id] = 0;
			count--;
		} else {
			v = socktab_insert(t, k, &created);
			assert_non_null(v);
			assert_int_equal(created, !ref[id]);
			if (!created)
				assert_int_equal(v->n, ref[id]);
			count += created;
			v->key = k;
			v->n = (uint32_t)i + 1;
			ref[id] = (uint32_t)i + 1;
		}
		if (i % 30000 == 0 || i == STEPS - 1) {
			size_t pos = 0, seen = 0;
			uint64_t key;

			assert_int_equal(socktab_count(t), count);
			for (unsigned k2 = 0; k2 < KEYS; k2++) {
				const struct val *f = socktab_find(t, k2 % 5 ? 1 + k2 : (1ULL << 63) | k2);

				if (!ref[k2]) {
					assert_null(f);
					continue;
				}
				assert_non_null(f);
				assert_int_equal(f->n, ref[k2]);
			}
			while ((v = socktab_next(t, &pos, &key))) {
				assert_int_equal(v->key, key);
				seen++;
			}
			assert_int_equal(seen, count);
		}
	}
	socktab_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basics),
		cmocka_unit_test(test_random_vs_reference),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
