// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Load generator for bench/run.sh, loopback only.
 *
 *   loadgen churn [-t THREADS] [-n MAXCONN] [-d SECONDS] [-p PORT] [-a NADDR] [-r RATE] [-C]
 *     THREADS client threads and THREADS server threads; client i connects to
 *     127.0.0.(1 + k % NADDR):(PORT + i) and closes at once, server i accepts,
 *     reads to EOF and closes: 10 state changes per connection (5 per side).
 *     Several destination addresses widen the 4-tuple space, so that the
 *     TIME_WAIT sockets left by the clients do not exhaust the ephemeral ports.
 *     Stops after MAXCONN connections or SECONDS, whichever comes first; RATE
 *     (connections/s, all threads together) paces the clients, 0 = flat out.
 *     -C pins client i to CPU 2i and server i to CPU 2i+1.
 *     Prints one line: "churn threads=T connections=N errors=E seconds=S rate=R".
 *
 *   loadgen hold [-c PAIRS] [-P PROCS] [-p PORT] [-d SECONDS]
 *     PROCS processes each listen on PORT + i and hold PAIRS / PROCS
 *     established loopback pairs (2 sockets each): the fd limit is 20000 per
 *     process, so 100k sockets need several processes. Prints
 *     "ready sockets=N pids=P,P,..." once every pair is up, then holds them
 *     until stdin reaches EOF, SIGTERM/SIGINT, or SECONDS (bounded).
 *
 * Ports must stay outside the ephemeral range (32768-60999): run.sh uses 2xxxx.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 64
#define MAX_PROCS 64
#define DRAIN_NS 5000000000LL   /* servers give up 5 s after the clients stop */

struct churn_cfg {
	int threads, naddr, pin;
	unsigned port;
	long long maxconn;
	double seconds, rate;
};

struct pair {
	const struct churn_cfg *c;
	int idx, lfd;
	pthread_t cl, sv;
	atomic_llong connected, served, errors;
	atomic_int client_done;
};

static atomic_llong tickets;

/* -C: client i on CPU 2i, server i on CPU 2i+1 (modulo the CPUs): the
 * scheduler's placement otherwise changes from run to run, and with it
 * the rate, by more than the effects being measured. */
static void pin_thread(pthread_t t, int cpu)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(n > 0 ? cpu % n : 0, &set);
	pthread_setaffinity_np(t, sizeof(set), &set);
}
static atomic_int stop;
static volatile sig_atomic_t got_signal;

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void on_signal(int sig)
{
	(void)sig;
	got_signal = 1;
	atomic_store(&stop, 1);
}

static int listen_on(unsigned port, int nonblock)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_ANY) };
	int one = 1, fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 4096)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

static void *client(void *arg)
{
	struct pair *p = arg;
	const struct churn_cfg *c = p->c;
	/* per-thread pacing: each thread gets rate / threads connections/s */
	long long interval = c->rate > 0 ? (long long)(1e9 * c->threads / c->rate) : 0;
	long long next = now_ns();
	unsigned k = 0;

	while (!atomic_load(&stop)) {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(c->port + p->idx) };
		int fd;

		if (atomic_fetch_add(&tickets, 1) >= c->maxconn) {
			atomic_store(&stop, 1);
			break;
		}
		if (interval) {
			struct timespec ts;

			next += interval;
			ts.tv_sec = next / 1000000000LL;
			ts.tv_nsec = next % 1000000000LL;
			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		}
		a.sin_addr.s_addr = htonl(0x7f000001u + (k++ % c->naddr));
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			atomic_fetch_add(&p->errors, 1);
			continue;
		}
		if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
			atomic_fetch_add(&p->errors, 1);
			close(fd);
			/* a persistent failure (ports exhausted) must not spin forever:
			 * the main thread's deadline still bounds this loop */
			continue;
		}
		close(fd);
		atomic_fetch_add(&p->connected, 1);
	}
	atomic_store(&p->client_done, 1);
	return NULL;
}

static void *server(void *arg)
{
	struct pair *p = arg;
	long long give_up = 0;
	char buf[256];

	for (;;) {
		struct pollfd pfd = { .fd = p->lfd, .events = POLLIN };

		if (atomic_load(&p->client_done)) {
			if (atomic_load(&p->served) >= atomic_load(&p->connected))
				break;
			if (!give_up)
				give_up = now_ns() + DRAIN_NS;
			else if (now_ns() > give_up)
				break;
		}
		if (poll(&pfd, 1, 20) <= 0)
			continue;
		for (;;) {
			int fd = accept4(p->lfd, NULL, NULL, SOCK_CLOEXEC);
			ssize_t n;

			if (fd < 0)
				break;
			/* the client closes right after connecting: EOF comes at once */
			do
				n = read(fd, buf, sizeof(buf));
			while (n > 0 || (n < 0 && errno == EINTR));
			close(fd);
			atomic_fetch_add(&p->served, 1);
		}
	}
	return NULL;
}

static int churn(int argc, char **argv)
{
	struct churn_cfg c = { .threads = 1, .naddr = 8, .port = 21000,
			       .maxconn = 100000000LL, .seconds = 10, .rate = 0 };
	struct pair *pairs = NULL;
	long long start, end, served = 0, connected = 0, errors = 0;
	int opt, i, started = 0, err = 0;

	while ((opt = getopt(argc, argv, "t:n:d:p:a:r:C")) != -1) {
		switch (opt) {
		case 'C': c.pin = 1; break;
		case 't': c.threads = atoi(optarg); break;
		case 'n': c.maxconn = atoll(optarg); break;
		case 'd': c.seconds = atof(optarg); break;
		case 'p': c.port = atoi(optarg); break;
		case 'a': c.naddr = atoi(optarg); break;
		case 'r': c.rate = atof(optarg); break;
		default: return 2;
		}
	}
	if (c.threads < 1 || c.threads > MAX_THREADS || c.naddr < 1 || c.naddr > 254 ||
	    c.port < 1024 || c.port + c.threads > 65535 || c.seconds <= 0 || c.seconds > 3600 ||
	    c.maxconn < 1) {
		fprintf(stderr, "loadgen: bad churn arguments (threads 1-%d, naddr 1-254, "
			"port >= 1024, seconds 0-3600)\n", MAX_THREADS);
		return 2;
	}
	pairs = calloc(c.threads, sizeof(*pairs));
	if (!pairs)
		return 1;
	for (i = 0; i < c.threads; i++) {
		pairs[i].c = &c;
		pairs[i].idx = i;
		pairs[i].lfd = listen_on(c.port + i, 1);
		if (pairs[i].lfd < 0) {
			fprintf(stderr, "loadgen: cannot listen on port %u: %s (is it in use?)\n",
				c.port + i, strerror(-pairs[i].lfd));
			err = 1;
			goto cleanup;
		}
	}
	start = now_ns();
	for (i = 0; i < c.threads; i++) {
		if (pthread_create(&pairs[i].sv, NULL, server, &pairs[i]))
			break;
		if (pthread_create(&pairs[i].cl, NULL, client, &pairs[i])) {
			atomic_store(&pairs[i].client_done, 1);
			pthread_join(pairs[i].sv, NULL);
			break;
		}
		if (c.pin) {
			pin_thread(pairs[i].cl, 2 * i);
			pin_thread(pairs[i].sv, 2 * i + 1);
		}
		started++;
	}
	while (!atomic_load(&stop) && now_ns() - start < (long long)(c.seconds * 1e9))
		usleep(2000);
	atomic_store(&stop, 1);
	for (i = 0; i < started; i++) {
		pthread_join(pairs[i].cl, NULL);
		pthread_join(pairs[i].sv, NULL);
	}
	end = now_ns();
	for (i = 0; i < started; i++) {
		served += pairs[i].served;
		connected += pairs[i].connected;
		errors += pairs[i].errors;
	}
	if (started < c.threads || served != connected)
		err = 1;
	printf("churn threads=%d connections=%lld errors=%lld unserved=%lld seconds=%.3f rate=%.0f\n",
	       started, served, errors, connected - served, (end - start) / 1e9,
	       served / ((end - start) / 1e9));
cleanup:
	for (i = 0; i < c.threads; i++)
		if (pairs[i].lfd > 0)
			close(pairs[i].lfd);
	free(pairs);
	return err;
}

/* One holder process: n established pairs on port; writes 1 byte to ready. */
static int hold_child(unsigned port, int n, int ready, double seconds)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int lfd, i;
	char c = 'r';

	prctl(PR_SET_PDEATHSIG, SIGTERM);
	alarm((unsigned)seconds + 5);   /* never outlive the bound, even orphaned */
	lfd = listen_on(port, 0);
	if (lfd < 0) {
		fprintf(stderr, "loadgen: cannot listen on port %u: %s\n", port, strerror(-lfd));
		return 1;
	}
	for (i = 0; i < n && !got_signal; i++) {
		int cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (cfd < 0 || connect(cfd, (struct sockaddr *)&a, sizeof(a)) ||
		    accept4(lfd, NULL, NULL, SOCK_CLOEXEC) < 0) {
			fprintf(stderr, "loadgen: pair %d on port %u: %s "
				"(fd limit 20000 per process: use more processes)\n",
				i, port, strerror(errno));
			return 1;
		}
	}
	if (write(ready, &c, 1) != 1)
		return 1;
	while (!got_signal)
		pause();
	return 0;   /* exit closes every socket */
}

static int hold(int argc, char **argv)
{
	int pairs = 50000, procs = 6, opt, i, fds[2], nready = 0, err = 0;
	unsigned port = 22000;
	double seconds = 600;
	pid_t pids[MAX_PROCS] = { 0 };
	long long deadline;

	while ((opt = getopt(argc, argv, "c:P:p:d:")) != -1) {
		switch (opt) {
		case 'c': pairs = atoi(optarg); break;
		case 'P': procs = atoi(optarg); break;
		case 'p': port = atoi(optarg); break;
		case 'd': seconds = atof(optarg); break;
		default: return 2;
		}
	}
	if (procs < 1 || procs > MAX_PROCS || pairs < procs || port < 1024 ||
	    port + procs > 65535 || seconds <= 0 || seconds > 3600) {
		fprintf(stderr, "loadgen: bad hold arguments (procs 1-%d, pairs >= procs)\n", MAX_PROCS);
		return 2;
	}
	if (pipe2(fds, O_CLOEXEC))
		return 1;
	for (i = 0; i < procs; i++) {
		int n = pairs / procs + (i < pairs % procs);

		pids[i] = fork();
		if (pids[i] < 0) {
			err = 1;
			goto cleanup;
		}
		if (pids[i] == 0) {
			close(fds[0]);
			_exit(hold_child(port + i, n, fds[1], seconds));
		}
	}
	close(fds[1]);
	fds[1] = -1;
	deadline = now_ns() + (long long)(seconds * 1e9);
	while (nready < procs && !got_signal && now_ns() < deadline) {
		struct pollfd pfd = { .fd = fds[0], .events = POLLIN };
		char c;

		if (poll(&pfd, 1, 1000) <= 0)
			continue;
		if (read(fds[0], &c, 1) != 1)
			break;   /* every child exited: one failed */
		nready++;
	}
	if (nready < procs) {
		fprintf(stderr, "loadgen: only %d of %d holders came up\n", nready, procs);
		err = 1;
		goto cleanup;
	}
	printf("ready sockets=%d pids=", 2 * pairs);
	for (i = 0; i < procs; i++)
		printf("%s%d", i ? "," : "", pids[i]);
	printf("\n");
	fflush(stdout);
	/* hold until stdin closes, a signal, or the deadline */
	while (!got_signal && now_ns() < deadline) {
		struct pollfd pfd = { .fd = 0, .events = POLLIN };
		char buf[64];

		if (poll(&pfd, 1, 500) > 0 && read(0, buf, sizeof(buf)) <= 0)
			break;
	}
cleanup:
	for (i = 0; i < procs; i++)
		if (pids[i] > 0)
			kill(pids[i], SIGTERM);
	for (i = 0; i < procs; i++)
		if (pids[i] > 0)
			waitpid(pids[i], NULL, 0);
	close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	return err;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (argc >= 2 && !strcmp(argv[1], "churn"))
		return churn(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "hold"))
		return hold(argc - 1, argv + 1);
	fprintf(stderr, "usage: loadgen churn [-t THREADS] [-n MAXCONN] [-d SECONDS] [-p PORT] "
		"[-a NADDR] [-r RATE] [-C]\n       loadgen hold [-c PAIRS] [-P PROCS] [-p PORT] [-d SECONDS]\n");
	return 2;
}
