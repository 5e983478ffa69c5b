// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "channel.h"

/* Plain files are pushed about every 100 ms, gzip about once a second (a
 * sync flush costs compression): also the most a crash loses. A failing
 * output is retried every 250 ms: a full disk costs a syscall, not a loop. */
#define FILE_FLUSH_NS 100000000LL
#define GZIP_FLUSH_NS 1000000000LL
#define RETRY_NS 250000000LL
#define NOTICE_NS 1000000000LL
#define DRAIN_IDLE_NS 200000000LL

struct owed {
	struct tt_lost l;
	int skipped;
	char reason[32], error[32];
};

struct channel {
	struct sink *s;
	int json, closed, is_stdout;
	const struct fmt_opts *fo;
	char *label;
	struct outbuf ob;             /* owed records are formatted here */
	struct owed *q;               /* marks and closed write losses, in order */
	size_t qn, qhead, qcap;
	struct tt_lost seg;           /* the open write loss */
	char seg_error[32];
	long long pushed;
	const volatile sig_atomic_t *patient;   /* wait for the reader until this is set */
	long long patient_idle;                 /* and (if not 0) while it takes records */
	struct chan_counts n;
	/* the stderr notices: one loss episode from its start to the output's recovery */
	int episode, report_due, ep_err;
	long long noticed;
	unsigned long long ep_events, ep_from, ep_to, ep_rows, ep_other;
};

int chan_new(struct channel **out, struct sink *s, int json, const struct fmt_opts *fo,
	     const char *label)
{
	struct channel *c = calloc(1, sizeof(*c));
	int err = -ENOMEM;

	*out = NULL;
	if (!c)
		goto cleanup;
	c->label = strdup(label);
	if (!c->label)
		goto cleanup;
	err = ob_init(&c->ob, 512);
	if (err)
		goto cleanup;
	c->s = s;
	c->json = json;
	c->fo = fo;
	c->is_stdout = sink_kind(s) == SINK_STDOUT;
	c->noticed = -NOTICE_NS;
	c->pushed = clock_boot_now();
	*out = c;
	return 0;
cleanup:
	if (c) {
		free(c->label);
		free(c);
	}
	return err;
}

static const char *errname(int err)
{
	const char *n = strerrorname_np(err < 0 ? -err : err);

	return n ? n : "EIO";
}

static int seg_open(const struct channel *c)
{
	return c->seg.count || c->seg.snapshot || c->seg.other;
}

/* The last push failed with an error, not a slow reader. */
static int failing(const struct channel *c)
{
	int err = sink_error(c->s);

	return err && err != -EAGAIN;
}

static int owes(const struct channel *c)
{
	return c->qhead < c->qn || seg_open(c);
}

static int queue(struct channel *c, const struct tt_lost *l, int skipped)
{
	struct owed *o;

	if (c->qhead && c->qn == c->qcap) {   /* paid in part: reuse the front */
		memmove(c->q, c->q + c->qhead, (c->qn - c->qhead) * sizeof(*c->q));
		c->qn -= c->qhead;
		c->qhead = 0;
	}
	if (c->qn == c->qcap) {
		size_t nc = c->qcap ? c->qcap * 2 : 16;
		struct owed *nq = realloc(c->q, nc * sizeof(*nq));

		if (!nq)
			return -ENOMEM;
		c->q = nq;
		c->qcap = nc;
	}
	o = &c->q[c->qn++];
	o->l = *l;
	o->skipped = skipped;
	/* the strings may live in a replayed record that is about to change;
	 * the entry points to its copies only when it is written (it moves) */
	snprintf(o->reason, sizeof(o->reason), "%s", l->reason ? l->reason : "");
	snprintf(o->error, sizeof(o->error), "%s", l->error ? l->error : "");
	o->l.reason = o->l.error = NULL;
	return 0;
}

/* The open write loss becomes an owed lost record. */
static void close_seg(struct channel *c)
{
	if (!seg_open(c))
		return;
	c->seg.error = c->seg_error[0] ? c->seg_error : NULL;
	if (queue(c, &c->seg, 0))
		return;   /* no memory: it stays open and keeps counting */
	memset(&c->seg, 0, sizeof(c->seg));
	c->seg_error[0] = '\0';
}

static void notice_start(struct channel *c, int err)
{
	long long now = clock_boot_now();

	if (now - c->noticed < NOTICE_NS)
		return;
	c->noticed = now;
	if (err == -EAGAIN || err == -ENOBUFS)
		fprintf(stderr, "tcptrail: %s: the reader is not keeping up; tracing goes on, the "
			"records it cannot take are counted and marked by a lost record when it reads "
			"again\n", c->label);
	else
		fprintf(stderr, "tcptrail: cannot write to %s: %s; tracing goes on, what cannot be "
			"written is counted and marked by a lost record when writing works again (%s)\n",
			c->label, strerror(-err),
			err == -ENOSPC || err == -EDQUOT ? "free some space" : "check the disk");
}

static void notice_recovery(struct channel *c, int force)
{
	long long now = clock_boot_now();

	if (!force && now - c->noticed < NOTICE_NS)
		return;
	c->noticed = now;
	c->report_due = 0;
	if (!c->ep_events && !c->ep_rows && !c->ep_other) {
		fprintf(stderr, "tcptrail: writing to %s works again; nothing was lost\n", c->label);
		return;
	}
	fprintf(stderr, "tcptrail: writing to %s works again; %llu events", c->label, c->ep_events);
	if (c->ep_events)
		fprintf(stderr, " (seq %llu-%llu)", c->ep_from, c->ep_to);
	fprintf(stderr, ", %llu snapshot rows and %llu other records could not be written: "
		"lost records mark them\n", c->ep_rows, c->ep_other);
	c->ep_events = c->ep_rows = c->ep_other = 0;
}

/* A failed write: the reader is gone (stdout), or a loss episode begins. */
static void note_error(struct channel *c, int err, int refused)
{
	if (err == -EPIPE && c->is_stdout) {
		c->closed = 1;
		return;
	}
	if (err != -EAGAIN && err != -ENOBUFS)
		c->n.error = -err;
	if (c->episode || (!refused && (err == -EAGAIN || err == -ENOBUFS)))
		return;
	c->episode = 1;
	c->ep_err = err;
	notice_start(c, err);
}

static void refuse(struct channel *c, unsigned tag, unsigned long long seq, int err)
{
	note_error(c, err, 1);
	if (c->closed)
		return;   /* the reader left on purpose (| head): not a loss */
	/* a lost record covers consecutive seqs only: anything that took the
	 * seqs between (a ring gap, a skipped run) is a record of its own */
	if (tag == CHAN_EVENT && c->seg.count && seq != c->seg.to_seq + 1)
		close_seg(c);
	if (!seg_open(c)) {
		c->seg.reason = "write";
		c->seg.from_seq = 1;
		c->seg.to_seq = 0;
		c->seg.boot_ns = clock_boot_now();
		snprintf(c->seg_error, sizeof(c->seg_error), "%s", errname(err));
	}
	switch (tag) {
	case CHAN_EVENT:
		c->n.lost_write++;
		if (!c->ep_events++)
			c->ep_from = seq;
		c->ep_to = seq;
		if (!c->seg.count)
			c->seg.from_seq = seq;
		c->seg.to_seq = seq;
		c->seg.count++;
		break;
	case CHAN_SNAPSHOT:
		c->n.snapshot_lost++;
		c->ep_rows++;
		c->seg.snapshot++;
		break;
	default:
		c->n.other_lost++;
		c->ep_other++;
		c->seg.other++;
		break;
	}
}

static void format_owed(struct channel *c, const struct tt_lost *l, int skipped)
{
	struct tt_record r = { .type = skipped ? TT_REC_SKIPPED : TT_REC_LOST, .lost = *l };

	ob_reset(&c->ob);
	if (c->json)
		fmt_json(&c->ob, &r, c->fo);
	else
		fmt_text(&c->ob, &r, c->fo);
}

/* One owed record into the sink: 1 when it took it. */
static int write_owed(struct channel *c, const struct tt_lost *l, int skipped)
{
	int err;

	format_owed(c, l, skipped);
	if (c->ob.oom)
		return 0;
	err = sink_write(c->s, c->ob.buf, c->ob.len, CHAN_MARK);
	if (err) {
		note_error(c, err, 0);
		return 0;
	}
	return 1;
}

/* Writes what the channel owes, in order. 1 when it owes nothing more. */
static int pay_owed(struct channel *c)
{
	while (c->qhead < c->qn) {
		struct owed *o = &c->q[c->qhead];

		o->l.reason = o->reason;
		o->l.error = o->error[0] ? o->error : NULL;
		if (!write_owed(c, &o->l, o->skipped))
			return 0;
		c->qhead++;
	}
	c->qhead = c->qn = 0;
	if (seg_open(c)) {
		c->seg.error = c->seg_error[0] ? c->seg_error : NULL;
		if (!write_owed(c, &c->seg, 0))
			return 0;
		memset(&c->seg, 0, sizeof(c->seg));
		c->seg_error[0] = '\0';
	}
	return 1;
}

/* A patient output waits for a slow reader, as long as it is not told to
 * stop and (with patient_idle) the reader takes records: the snapshot,
 * which no ring waits behind. */
static int wait_room(struct channel *c, unsigned tag, const char *rec, size_t len)
{
	long long idle_until = clock_boot_now() + c->patient_idle;
	size_t left = sink_pending(c->s);
	int err = -EAGAIN;

	while (!*c->patient && (!c->patient_idle || clock_boot_now() < idle_until)) {
		sink_wait(c->s, 50);
		err = sink_flush(c->s);
		if (err && err != -EAGAIN)
			break;
		err = sink_write(c->s, rec, len, tag);
		if (err != -EAGAIN && err != -ENOBUFS)
			break;
		if (sink_pending(c->s) < left)
			idle_until = clock_boot_now() + c->patient_idle;
		left = sink_pending(c->s);
	}
	/* a reader that took nothing for that long is stalled: no more waiting */
	if (err && c->patient_idle)
		c->patient = NULL;
	return err;
}

void chan_put(struct channel *c, unsigned tag, unsigned long long seq, const char *rec, size_t len)
{
	int err;

	if (!c || c->closed || (rec && !len))
		return;
	if (!rec) {   /* it could not be formatted (no memory) */
		refuse(c, tag, seq, -ENOMEM);
		return;
	}
	/* What is owed is paid by chan_flush(), once a push has made room or
	 * writing works again: records in between join the open loss, so that
	 * one lost record covers one gap. */
	if (owes(c)) {
		refuse(c, tag, seq, sink_error(c->s) ? sink_error(c->s) : -ENOBUFS);
		return;
	}
	err = sink_write(c->s, rec, len, tag);
	if ((err == -EAGAIN || err == -ENOBUFS) && c->patient)
		err = wait_room(c, tag, rec, len);
	if (err) {
		refuse(c, tag, seq, err);
		return;
	}
	if (tag == CHAN_EVENT)
		c->n.written++;
	else if (tag == CHAN_SNAPSHOT)
		c->n.snapshot++;
}

void chan_mark(struct channel *c, const struct tt_lost *l, int skipped)
{
	int owed;

	if (!c || c->closed || (skipped && !c->json))
		return;
	owed = owes(c);

	close_seg(c);
	if (queue(c, l, skipped)) {
		c->n.other_lost++;   /* no memory for the mark itself */
		return;
	}
	/* in its place at once, unless older records wait for chan_flush() */
	if (!owed && !failing(c))
		pay_owed(c);
}

/* A complete push with nothing owed ends a loss episode. */
static void recovered(struct channel *c)
{
	if (c->episode) {
		c->episode = 0;
		c->report_due = 1;
	}
	if (c->report_due)
		notice_recovery(c, 0);
}

void chan_flush(struct channel *c, int force)
{
	long long now, every;
	int err;

	if (!c || c->closed)
		return;
	now = clock_boot_now();
	every = c->is_stdout ? 0 : sink_kind(c->s) == SINK_GZIP ? GZIP_FLUSH_NS : FILE_FLUSH_NS;
	if (c->episode && every > RETRY_NS)
		every = RETRY_NS;
	if (!force && now - c->pushed < every)
		return;
	c->pushed = now;
	err = sink_flush(c->s);
	if (err && err != -EAGAIN) {
		note_error(c, err, 0);
		return;
	}
	/* room again: what is owed goes in before anything new */
	if (owes(c) && pay_owed(c) && !err)
		err = sink_flush(c->s);
	if (err)
		note_error(c, err, 0);
	else if (!owes(c))
		recovered(c);
}

int chan_drain(struct channel *c, long long deadline_ns)
{
	long long idle_until = clock_boot_now() + DRAIN_IDLE_NS;
	size_t left = c ? sink_pending(c->s) : 0;
	int err = 0;

	while (c && !c->closed) {
		err = sink_flush(c->s);
		if (err && err != -EAGAIN) {
			note_error(c, err, 0);
			break;   /* a failing disk is not waited for */
		}
		if (owes(c) && pay_owed(c))
			continue;
		if (!err && !owes(c)) {
			recovered(c);
			break;
		}
		/* a reader that takes records may have until the deadline; one
		 * that takes none for DRAIN_IDLE_NS is not waited for */
		if (sink_pending(c->s) < left)
			idle_until = clock_boot_now() + DRAIN_IDLE_NS;
		left = sink_pending(c->s);
		if ((clock_boot_now() >= deadline_ns || clock_boot_now() >= idle_until) &&
		    (!c->patient || c->patient_idle || *c->patient)) {
			err = err ? err : -EAGAIN;
			break;
		}
		if (c->patient)
			sink_wait(c->s, 50);
		else
			usleep(2000);
	}
	return err;
}

void chan_patience(struct channel *c, const volatile sig_atomic_t *stop, int idle_ms)
{
	if (!c)
		return;
	c->patient = stop;
	c->patient_idle = idle_ms * 1000000LL;
}

int chan_poll_fd(const struct channel *c)
{
	return c && !c->closed ? sink_poll_fd(c->s) : -1;
}

int chan_reopen(struct channel *c)
{
	return c ? sink_reopen(c->s) : -EINVAL;
}

/* What is owed goes in first: a file renamed without its lost records
 * would leave them for the next file, out of order. */
int chan_seal(struct channel *c)
{
	int err;

	if (!c || c->closed)
		return -EINVAL;
	chan_flush(c, 1);
	if (owes(c))
		return sink_error(c->s) ? sink_error(c->s) : -EIO;
	err = sink_seal(c->s);
	if (err)
		note_error(c, err, 0);
	return err;
}

int chan_check_path(const struct channel *c)
{
	return c ? sink_check_path(c->s) : -EINVAL;
}

int chan_closed(const struct channel *c)
{
	return c && c->closed;
}

int chan_json(const struct channel *c)
{
	return c && c->json;
}

const char *chan_label(const struct channel *c)
{
	return c ? c->label : "";
}

void chan_counts(const struct channel *c, struct chan_counts *cc)
{
	if (!c) {
		memset(cc, 0, sizeof(*cc));
		return;
	}
	*cc = c->n;
}

void chan_close(struct channel **pc, int wait_ms, struct chan_counts *cc)
{
	struct channel *c = pc ? *pc : NULL;
	struct sink_stats st;
	int err;

	if (!c) {
		if (cc)
			memset(cc, 0, sizeof(*cc));
		return;
	}
	/* the recovery a rate-limited notice did not tell yet */
	if (c->report_due && !c->episode)
		notice_recovery(c, 1);
	err = sink_close_wait(&c->s, c->closed ? 0 : wait_ms, &st);
	if (err == -EPIPE && c->is_stdout)
		c->closed = 1;
	if (!c->closed) {
		/* taken, but not written in the end: not written after all */
		c->n.written -= st.dropped[CHAN_EVENT];
		c->n.lost_write += st.dropped[CHAN_EVENT];
		c->n.snapshot -= st.dropped[CHAN_SNAPSHOT];
		c->n.snapshot_lost += st.dropped[CHAN_SNAPSHOT];
		c->n.other_lost += st.dropped[CHAN_OTHER];
		for (int t = 0; t < SINK_TAGS; t++)
			c->n.cut += st.dropped[t];
		/* what the channel still owed never got in either */
		c->n.cut += c->qn - c->qhead + (seg_open(c) ? 1 : 0);
		if (err && err != -EAGAIN)
			c->n.error = -err;
	}
	if (cc)
		*cc = c->n;
	ob_free(&c->ob);
	free(c->q);
	free(c->label);
	free(c);
	*pc = NULL;
}
