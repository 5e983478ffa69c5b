// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * --metrics (metrics.h): what the counters count, in terms of transitions
 * (the man page's METRICS section says the same):
 *   connections opened  active: SYN_SENT -> ESTABLISHED; passive:
 *                       SYN_RECV -> ESTABLISHED. Both ends of a loopback
 *                       connection count, one on each side.
 *   refused             SYN_SENT -> CLOSE: a connect that never completed
 *                       (a RST in reply, the SYN retries running out, or
 *                       the application giving up: states cannot tell).
 *   duration            one observation per connection that reached
 *                       ESTABLISHED, at the transition that ends it: into
 *                       TIME_WAIT, or into CLOSE from ESTABLISHED or a
 *                       closing state. The value is the record's
 *                       duration_ms (life=): from the connection's first
 *                       state (SYN_SENT, or its request socket's SYN_RECV)
 *                       to that transition. Connections that began before
 *                       tracing have no known start and are not observed.
 *   events              every event taken from the ring in order: the
 *                       summary's "seen" (written, skipped, summarized, or
 *                       lost on the way to an output).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "escape.h"
#include "metrics.h"
#include "netstat_fmt.h"
#include "sockgauge.h"
#include "stats.h"

enum { LOST_RING, LOST_RECURSION, LOST_WRITE, LOST_MAX };
static const char *const lost_reasons[LOST_MAX] = { "ring_full", "recursion", "write" };

/* a comm, or a container or unit: a label value and its count */
struct named {
	char name[SG_NAME_MAX];   /* NUL-terminated */
	unsigned long long n;
};

/* What a scrape shows: copied whole from the reader to the scraper. */
struct metrics_pub {
	unsigned long long states[TT_STATE_MAX];
	unsigned long long trans[TT_STATE_MAX][TT_STATE_MAX];
	unsigned long long events, lost[LOST_MAX];
	unsigned long long buckets[METRICS_NBUCKETS + 1];   /* not cumulative; last: +Inf */
	unsigned long long dur_count, dur_sum_ns;
	unsigned long long ring_size;
	char kernel[65];
	struct named owners[METRICS_TOP_OWNERS], containers[METRICS_TOP_OWNERS];
	int nowners, ncontainers;
};

struct metrics {
	struct sockgauge *gauge;  /* ESTABLISHED per owner and container; sockets per state */
	struct stats *model;      /* a partial run's sockets per state: the -s model */
	/* the transitions the kernel could not send (metrics_kernel_lost) */
	unsigned long long kernel_lost[TT_STATE_MAX][TT_STATE_MAX];
	/* and those it sent too late to be shown (metrics_late) */
	unsigned long long late[TT_STATE_MAX][TT_STATE_MAX];
	unsigned long long unseen[TT_STATE_MAX][TT_STATE_MAX];   /* the two, summed */
	struct metrics_pub live;  /* the reader's */
	long long published;
	/* names gathered at a publication, reused */
	struct named *gather;
	size_t ngather, cap_gather;
	pthread_mutex_t lock;     /* guards pub */
	struct metrics_pub pub;
	int has_pub;
};

static void actions_init(void);

int metrics_new(struct metrics **out, int partial)
{
	struct metrics *m = calloc(1, sizeof(*m));
	struct utsname u;
	int err;

	*out = NULL;
	if (!m)
		return -ENOMEM;
	actions_init();
	err = sg_new(&m->gauge, partial);
	if (!err && partial)
		err = stats_new(&m->model);
	if (err) {
		sg_free(&m->gauge);
		free(m);
		return err;
	}
	pthread_mutex_init(&m->lock, NULL);
	/* the meta record names the kernel too; this covers a run without one */
	if (!uname(&u))
		snprintf(m->live.kernel, sizeof(m->live.kernel), "%s", u.release);
	*out = m;
	return 0;
}

void metrics_free(struct metrics **pm)
{
	struct metrics *m = pm ? *pm : NULL;

	if (!m)
		return;
	sg_free(&m->gauge);
	stats_free(&m->model);
	pthread_mutex_destroy(&m->lock);
	free(m->gather);
	free(m);
	*pm = NULL;
}

/* The end of an established connection (see the top of this file). */
static int ends_connection(unsigned old, unsigned new)
{
	if (new == TT_TIME_WAIT)
		return old != TT_TIME_WAIT;
	if (new != TT_CLOSE)
		return 0;
	return old == TT_ESTABLISHED || old == TT_FIN_WAIT1 || old == TT_FIN_WAIT2 ||
	       old == TT_CLOSE_WAIT || old == TT_LAST_ACK || old == TT_CLOSING;
}

static void observe_duration(struct metrics_pub *p, unsigned long long ns)
{
	static const unsigned long long bounds_ns[METRICS_NBUCKETS] = METRICS_BUCKETS_NS;
	int i = 0;

	while (i < METRICS_NBUCKETS && ns > bounds_ns[i])
		i++;
	p->buckets[i]++;
	p->dur_count++;
	p->dur_sum_ns += ns;
}

/* What an event does besides its counts, by normalized old and new state:
 * one lookup and one branch per event, the branches on states being the
 * costly part of the hot path (a reader's events come in no fixed order). */
enum { ACT_EST = 1, ACT_END = 2 };

static unsigned char actions[TT_STATE_MAX][TT_STATE_MAX];

static void actions_init(void)
{
	for (unsigned o = 1; o < TT_STATE_MAX; o++)
		for (unsigned n = 1; n < TT_STATE_MAX; n++)
			actions[o][n] = (o == TT_ESTABLISHED || n == TT_ESTABLISHED ? ACT_EST : 0) |
					(ends_connection(o, n) ? ACT_END : 0);
}

/* The hot path: a few increments, and a table lookup for the events into
 * and out of ESTABLISHED (sockgauge.h). */
static void on_event(struct metrics *m, const struct tt_event *e, const struct tt_cgref *cg)
{
	unsigned old, st, act;

	m->live.events++;
	if (e->kind != TT_EV_STATE)
		return;
	old = sg_norm_state(e->old_state);
	st = sg_norm_state(e->new_state);
	if (!old || !st)
		return;
	m->live.trans[old][st]++;
	act = actions[old][st];
	if ((act & ACT_END) && (e->flags & TT_F_FINAL) && e->duration_ns)
		observe_duration(&m->live, e->duration_ns);
	sg_event(m->gauge, e, old, st, act & ACT_EST, cg);
	if (m->model)
		stats_event(m->model, e);
}

static void on_lost(struct metrics *m, const struct tt_lost *l)
{
	if (!l->reason)
		return;
	for (int i = 0; i < LOST_MAX; i++)
		if (i != LOST_WRITE && !strcmp(l->reason, lost_reasons[i])) {
			m->live.lost[i] += l->count;
			sg_lost(m->gauge, l->boot_ns);
			if (m->model)
				stats_lost(m->model, l->count);
		}
}

void metrics_record(struct metrics *m, const struct tt_record *r)
{
	switch (r->type) {
	case TT_REC_EVENT:
		on_event(m, &r->ev, &r->cg);
		break;
	case TT_REC_META:
		if (r->meta.kernel)
			snprintf(m->live.kernel, sizeof(m->live.kernel), "%s", r->meta.kernel);
		m->live.ring_size = r->meta.ring_size;
		break;
	case TT_REC_SNAPSHOT:
		sg_snapshot(m->gauge, &r->snap, &r->cg);
		if (m->model)
			stats_snapshot(m->model, &r->snap);
		break;
	case TT_REC_SKIPPED:
		m->live.events += r->lost.count;
		break;
	case TT_REC_LOST:
		on_lost(m, &r->lost);
		break;
	default:
		break;
	}
}

void metrics_write_lost(struct metrics *m, unsigned long long total)
{
	/* a running total that only grows: a reopened output starts its own */
	if (total > m->live.lost[LOST_WRITE])
		m->live.lost[LOST_WRITE] = total;
}

void metrics_late(struct metrics *m, const struct tt_event *e)
{
	unsigned old = sg_norm_state(e->old_state), st = sg_norm_state(e->new_state);

	if (e->kind == TT_EV_STATE && old && st)
		m->late[old][st]++;
}

void metrics_kernel_lost(struct metrics *m,
			 const unsigned long long lost[TT_STATE_MAX][TT_STATE_MAX])
{
	/* kernel states, normalized as events' are */
	memset(m->kernel_lost, 0, sizeof(m->kernel_lost));
	for (unsigned o = 0; o < TT_STATE_MAX; o++)
		for (unsigned n = 0; n < TT_STATE_MAX; n++) {
			unsigned no = sg_norm_state(o), nn = sg_norm_state(n);

			if (no && nn)
				m->kernel_lost[no][nn] += lost[o][n];
		}
}

/* ---- top N names: several pids of one comm (cgroups of one container) summed */

static void gather(void *ctx, const char *name, unsigned long long n)
{
	struct metrics *m = ctx;

	if (m->ngather == m->cap_gather) {
		size_t cap = m->cap_gather ? 2 * m->cap_gather : 64;
		struct named *g = realloc(m->gather, cap * sizeof(*g));

		if (!g)
			return;   /* a name left out of a gauge, not a wrong count */
		m->gather = g;
		m->cap_gather = cap;
	}
	memset(m->gather[m->ngather].name, 0, SG_NAME_MAX);
	strncpy(m->gather[m->ngather].name, name, SG_NAME_MAX - 1);
	m->gather[m->ngather++].n = n;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(((const struct named *)a)->name, ((const struct named *)b)->name);
}

/* Most sockets first, ties by name: the same set from one scrape to the next. */
static int before(const struct named *a, const struct named *b)
{
	return a->n != b->n ? a->n > b->n : strcmp(a->name, b->name) < 0;
}

/* The gathered names, summed by name, into top[] (most first). */
static int top_named(struct metrics *m, struct named top[METRICS_TOP_OWNERS])
{
	size_t i = 0, k;
	int ntop = 0;

	qsort(m->gather, m->ngather, sizeof(*m->gather), cmp_name);
	while (i < m->ngather) {
		struct named o = m->gather[i];
		int j;

		for (k = i + 1; k < m->ngather && !strcmp(m->gather[k].name, o.name); k++)
			o.n += m->gather[k].n;
		i = k;
		/* insertion into the sorted top N */
		for (j = ntop; j > 0 && before(&o, &top[j - 1]); j--)
			if (j < METRICS_TOP_OWNERS)
				top[j] = top[j - 1];
		if (j < METRICS_TOP_OWNERS) {
			top[j] = o;
			if (ntop < METRICS_TOP_OWNERS)
				ntop++;
		}
	}
	m->ngather = 0;
	return ntop;
}

void metrics_publish(struct metrics *m, long long now_ns, int force)
{
	struct metrics_pub *p = &m->live;

	if (!force && now_ns - m->published < METRICS_PUBLISH_NS)
		return;
	if (m->model)
		for (unsigned s = 0; s < TT_STATE_MAX; s++)
			p->states[s] = stats_state_count(m->model, s);
	else {
		for (unsigned o = 0; o < TT_STATE_MAX; o++)
			for (unsigned n = 0; n < TT_STATE_MAX; n++)
				m->unseen[o][n] = m->kernel_lost[o][n] + m->late[o][n];
		sg_states(m->gauge, p->trans, m->unseen, p->states);
	}
	sg_each_owner(m->gauge, gather, m);
	p->nowners = top_named(m, p->owners);
	sg_each_container(m->gauge, gather, m);
	p->ncontainers = top_named(m, p->containers);
	/* a scraper is copying the last one: next time */
	if (pthread_mutex_trylock(&m->lock))
		return;
	m->pub = *p;
	m->has_pub = 1;
	pthread_mutex_unlock(&m->lock);
	m->published = now_ns;
}

/* ---- the exposition format ------------------------------------------------ */

void metrics_label_value(struct outbuf *ob, const char *s, size_t len)
{
	char buf[ESC_TEXT_MAX(SG_NAME_MAX)];
	size_t n;

	/* comms, containers and units are the label values from outside;
	 * longer ones are cut at a whole escape or character */
	n = esc_text(buf, sizeof(buf), s, len);
	for (size_t i = 0; i < n; i++) {
		if (buf[i] == '\\' || buf[i] == '"')
			ob_putc(ob, '\\');
		if (buf[i] == '\n')
			ob_puts(ob, "\\n");
		else
			ob_putc(ob, buf[i]);
	}
}

static void head(struct outbuf *ob, const char *name, const char *type, const char *help)
{
	ob_puts(ob, "# HELP ");
	ob_puts(ob, name);
	ob_putc(ob, ' ');
	ob_puts(ob, help);
	ob_puts(ob, "\n# TYPE ");
	ob_puts(ob, name);
	ob_putc(ob, ' ');
	ob_puts(ob, type);
	ob_putc(ob, '\n');
}

/* name{label="value"} v, or name v without a label */
static void sample(struct outbuf *ob, const char *name, const char *label, const char *value,
		   unsigned long long v)
{
	ob_puts(ob, name);
	if (label) {
		ob_putc(ob, '{');
		ob_puts(ob, label);
		ob_puts(ob, "=\"");
		ob_puts(ob, value);
		ob_puts(ob, "\"}");
	}
	ob_putc(ob, ' ');
	ob_u64(ob, v);
	ob_putc(ob, '\n');
}

/* seconds from nanoseconds, exactly: "12.000034500" */
static void seconds(struct outbuf *ob, unsigned long long ns)
{
	ob_u64(ob, ns / 1000000000ULL);
	ob_putc(ob, '.');
	ob_frac(ob, ns % 1000000000ULL, 9);
}

static void render_states(struct outbuf *ob, const struct metrics_pub *p)
{
	static const unsigned order[] = STATS_STATES;

	head(ob, "tcptrail_sockets", "gauge",
	     "Sockets per TCP state now, from the snapshot and the events.");
	for (size_t i = 0; i < STATS_NSTATES; i++)
		sample(ob, "tcptrail_sockets", "state", netstat_state_name(order[i]),
		       p->states[order[i]]);
	head(ob, "tcptrail_transitions_total", "counter",
	     "TCP state changes seen, by old and new state.");
	for (unsigned o = 0; o < TT_STATE_MAX; o++)
		for (unsigned n = 0; n < TT_STATE_MAX; n++) {
			if (!p->trans[o][n])
				continue;
			ob_puts(ob, "tcptrail_transitions_total{from=\"");
			ob_puts(ob, netstat_state_name(o));
			ob_puts(ob, "\",to=\"");
			ob_puts(ob, netstat_state_name(n));
			ob_puts(ob, "\"} ");
			ob_u64(ob, p->trans[o][n]);
			ob_putc(ob, '\n');
		}
}

static void render_connections(struct outbuf *ob, const struct metrics_pub *p)
{
	static const unsigned long long bounds_ns[METRICS_NBUCKETS] = METRICS_BUCKETS_NS;
	unsigned long long cum = 0;

	head(ob, "tcptrail_connections_opened_total", "counter",
	     "Handshakes completed: active SYN_SENT->ESTABLISHED, passive SYN_RECV->ESTABLISHED.");
	sample(ob, "tcptrail_connections_opened_total", "side", "active",
	       p->trans[TT_SYN_SENT][TT_ESTABLISHED]);
	sample(ob, "tcptrail_connections_opened_total", "side", "passive",
	       p->trans[TT_SYN_RECV][TT_ESTABLISHED]);
	head(ob, "tcptrail_connections_refused_total", "counter",
	     "Connects that never completed: SYN_SENT->CLOSE.");
	sample(ob, "tcptrail_connections_refused_total", NULL, NULL,
	       p->trans[TT_SYN_SENT][TT_CLOSE]);
	head(ob, "tcptrail_connection_duration_seconds", "histogram",
	     "Life of each established connection, from its first state to its end.");
	for (int i = 0; i <= METRICS_NBUCKETS; i++) {
		cum += p->buckets[i];
		ob_puts(ob, "tcptrail_connection_duration_seconds_bucket{le=\"");
		if (i < METRICS_NBUCKETS) {
			char le[32];

			snprintf(le, sizeof(le), "%g", (double)bounds_ns[i] / 1e9);
			ob_puts(ob, le);
		} else {
			ob_puts(ob, "+Inf");
		}
		ob_puts(ob, "\"} ");
		ob_u64(ob, cum);
		ob_putc(ob, '\n');
	}
	ob_puts(ob, "tcptrail_connection_duration_seconds_sum ");
	seconds(ob, p->dur_sum_ns);
	ob_putc(ob, '\n');
	sample(ob, "tcptrail_connection_duration_seconds_count", NULL, NULL, p->dur_count);
}

/* prefix is the name and the label up to its opening quote */
static void render_named(struct outbuf *ob, const char *prefix, const struct named *v, int n)
{
	for (int i = 0; i < n; i++) {
		ob_puts(ob, prefix);
		metrics_label_value(ob, v[i].name, strlen(v[i].name));
		ob_puts(ob, "\"} ");
		ob_u64(ob, v[i].n);
		ob_putc(ob, '\n');
	}
}

static void render_run(struct outbuf *ob, const struct metrics_pub *p)
{
	head(ob, "tcptrail_events_total", "counter",
	     "Events taken from the kernel in order (the summary's seen).");
	sample(ob, "tcptrail_events_total", NULL, NULL, p->events);
	head(ob, "tcptrail_events_lost_total", "counter",
	     "Events lost: ring_full and recursion in the kernel, write at the output.");
	for (int i = 0; i < LOST_MAX; i++)
		sample(ob, "tcptrail_events_lost_total", "reason", lost_reasons[i], p->lost[i]);
	head(ob, "tcptrail_ring_buffer_bytes", "gauge", "Size of the BPF ring buffer.");
	sample(ob, "tcptrail_ring_buffer_bytes", NULL, NULL, p->ring_size);
	head(ob, "tcptrail_build_info", "gauge", "Always 1: the version and the running kernel.");
	ob_puts(ob, "tcptrail_build_info{version=\"");
	metrics_label_value(ob, TT_VERSION, strlen(TT_VERSION));
	ob_puts(ob, "\",kernel=\"");
	metrics_label_value(ob, p->kernel, strlen(p->kernel));
	ob_puts(ob, "\"} 1\n");
	head(ob, "tcptrail_owner_established_sockets", "gauge",
	     "ESTABLISHED sockets per owner comm, for the comms owning the most.");
	render_named(ob, "tcptrail_owner_established_sockets{comm=\"", p->owners, p->nowners);
	head(ob, "tcptrail_container_established_sockets", "gauge",
	     "ESTABLISHED sockets per container or systemd unit, for those owning the most.");
	render_named(ob, "tcptrail_container_established_sockets{container=\"", p->containers,
		     p->ncontainers);
}

int metrics_render(struct metrics *m, struct outbuf *ob)
{
	struct metrics_pub *p = malloc(sizeof(*p));
	int has;

	if (!p)
		return -ENOMEM;
	pthread_mutex_lock(&m->lock);
	has = m->has_pub;
	if (has)
		*p = m->pub;
	pthread_mutex_unlock(&m->lock);
	if (!has)   /* the server starts after a publication: only in tests */
		memset(p, 0, sizeof(*p));
	render_states(ob, p);
	render_connections(ob, p);
	render_run(ob, p);
	free(p);
	return ob->oom ? -ENOMEM : 0;
}

/* ---- [ADDR:]PORT ---------------------------------------------------------- */

static int parse_port(const char *s, unsigned *port)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < 1 || v > 65535)
		return -EINVAL;
	*port = (unsigned)v;
	return 0;
}

int metrics_parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	const char *colon = strrchr(s, ':');
	char addr[INET6_ADDRSTRLEN + 2];
	size_t alen = colon ? (size_t)(colon - s) : 0;
	unsigned port;

	memset(ss, 0, sizeof(*ss));
	if (parse_port(colon ? colon + 1 : s, &port) || alen >= sizeof(addr))
		return -EINVAL;
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	if (alen >= 2 && addr[0] == '[' && addr[alen - 1] == ']') {
		addr[alen - 1] = '\0';
		if (inet_pton(AF_INET6, addr + 1, &in6->sin6_addr) != 1)
			return -EINVAL;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		*len = sizeof(*in6);
		return 0;
	}
	if (!colon)
		strcpy(addr, "127.0.0.1");
	if (inet_pton(AF_INET, addr, &in4->sin_addr) != 1)
		return -EINVAL;
	in4->sin_family = AF_INET;
	in4->sin_port = htons(port);
	*len = sizeof(*in4);
	return 0;
}
