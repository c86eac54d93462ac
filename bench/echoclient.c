/*
 * echoclient: closed-loop load generator for echo servers.
 *
 *   echoclient (--host H --port P | --unix PATH) [--conns C] [--msize BYTES]
 *              [--duration SECONDS] [--requests N] [--udp] [--resend-after S]
 *              [--wait-idle PID]
 *
 * Each of C connections keeps exactly one request of msize bytes in flight:
 * it sends the request, reads the whole echo back (checking every byte), and
 * only then sends the next. The rate is therefore bound by the server's
 * per-request latency, which is what an event loop changes. With --udp each
 * "connection" is a UDP socket with one datagram in flight; a datagram lost on
 * the way is resent after a timeout (--resend-after, default 0.1 s) and counted.
 *
 * With --requests N it stops after exactly N requests (it starts no more than
 * that), and fails if --duration passes first: a fixed amount of work, so that
 * two runs of different N differ by exactly the extra requests. --wait-idle PID
 * holds each request back until process PID (the server) sleeps, i.e. waits
 * in epoll for it: the server then takes the same path for every request,
 * instead of sometimes finding the next one already there when it looks for
 * more input after replying, which depends on how fast each side runs.
 *
 * Prints one JSON line: requests, seconds, req/s, MB/s (echoed payload, one
 * direction, 10^6 bytes) and, for UDP, resends.
 *
 * One thread and epoll keep the client's own cost low, so on a 2-core machine
 * it takes one core and leaves the other to the server.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define UDP_TICK_MS 10        /* how often UDP deadlines are checked */
#define SEQ_SIZE sizeof(uint64_t)
#define MAX_UDP_PAYLOAD 65507
#define MAX_EVENTS 64

struct options {
    const char *host;
    const char *port;
    const char *unix_path;
    int conns;
    size_t msize;
    double duration;
    unsigned long long requests;  /* 0: no limit, run for the duration */
    bool udp;
    double resend_after;
    int idle_stat_fd;  /* --wait-idle: the server's /proc/PID/stat, or -1 */
};

struct conn {
    int fd;
    size_t sent;      /* TCP: bytes of the current request written */
    size_t received;  /* TCP: bytes of its echo read back */
    bool want_out;    /* TCP: waiting for EPOLLOUT to finish a write */
    uint64_t seq;     /* UDP: number of the datagram in flight */
    double deadline;  /* UDP: when to resend it */
};

static struct options opt = {
    .host = "127.0.0.1", .conns = 10, .msize = 1024, .duration = 5.0,
    .resend_after = 0.1,
    .idle_stat_fd = -1,
};
static unsigned char *payload;  /* the request; UDP overwrites its first bytes with seq */
static unsigned char *rbuf;
static size_t rbuf_size;
static int epfd;
static uint64_t requests, started, resends;

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("echoclient: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void usage(void)
{
    die("usage: echoclient (--host H --port P | --unix PATH) [--conns C]"
        " [--msize BYTES] [--duration SECONDS] [--requests N] [--udp]"
        " [--resend-after SECONDS] [--wait-idle PID]");
}

static void open_idle_stat(const char *pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%s/stat", pid);
    if ((opt.idle_stat_fd = open(path, O_RDONLY)) < 0)
        die("open %s: %s", path, strerror(errno));
}

/* Waits until the --wait-idle process is asleep (state S): its only blocking
   call is the wait for input, the next request. */
static void wait_idle(void)
{
    char stat[512];
    const struct timespec pause = {.tv_nsec = 20000};
    for (;;) {
        ssize_t n = pread(opt.idle_stat_fd, stat, sizeof(stat) - 1, 0);
        if (n <= 0)
            die("read the --wait-idle process's stat: %s", n ? strerror(errno) : "gone");
        stat[n] = 0;
        /* "pid (comm) S ...": the command name may hold spaces or parentheses. */
        const char *end = strrchr(stat, ')');
        if (end && end[1] == ' ' && end[2] == 'S')
            return;
        nanosleep(&pause, NULL);
    }
}

static void parse_args(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"host", required_argument, NULL, 'h'},
        {"port", required_argument, NULL, 'p'},
        {"unix", required_argument, NULL, 'u'},
        {"conns", required_argument, NULL, 'c'},
        {"msize", required_argument, NULL, 'm'},
        {"duration", required_argument, NULL, 'd'},
        {"requests", required_argument, NULL, 'n'},
        {"udp", no_argument, NULL, 'U'},
        {"resend-after", required_argument, NULL, 'r'},
        {"wait-idle", required_argument, NULL, 'w'},
        {NULL, 0, NULL, 0},
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (ch) {
        case 'h': opt.host = optarg; break;
        case 'p': opt.port = optarg; break;
        case 'u': opt.unix_path = optarg; break;
        case 'c': opt.conns = atoi(optarg); break;
        case 'm': opt.msize = strtoul(optarg, NULL, 10); break;
        case 'd': opt.duration = atof(optarg); break;
        case 'n': opt.requests = strtoull(optarg, NULL, 10); break;
        case 'U': opt.udp = true; break;
        case 'r': opt.resend_after = atof(optarg); break;
        case 'w': open_idle_stat(optarg); break;
        default: usage();
        }
    }
    if (optind != argc || !opt.port == !opt.unix_path)
        usage();
    if (opt.conns < 1 || opt.msize < 1 || opt.duration <= 0 || opt.resend_after <= 0)
        die("--conns, --msize, --duration and --resend-after must be positive");
    if (opt.udp && opt.unix_path)
        die("--udp needs --host/--port");
    /* A UDP datagram carries a sequence number to tell a late echo from the
       one awaited. */
    if (opt.udp && (opt.msize < SEQ_SIZE || opt.msize > MAX_UDP_PAYLOAD))
        die("--udp needs %zu <= --msize <= %d", SEQ_SIZE, MAX_UDP_PAYLOAD);
}

static void set_nonblocking(int fd)
{
    if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
        die("fcntl: %s", strerror(errno));
}

static int connect_unix(void)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(opt.unix_path) >= sizeof(addr.sun_path))
        die("unix socket path too long: %s", opt.unix_path);
    strcpy(addr.sun_path, opt.unix_path);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
        die("connect %s: %s", opt.unix_path, strerror(errno));
    return fd;
}

/* Connects (blocking, before the clock starts) to the first address of
   host:port that accepts. */
static int connect_inet(void)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = opt.udp ? SOCK_DGRAM : SOCK_STREAM};
    struct addrinfo *res;
    int err = getaddrinfo(opt.host, opt.port, &hints, &res);
    if (err)
        die("%s:%s: %s", opt.host, opt.port, gai_strerror(err));
    int fd = -1;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0)
        die("connect %s:%s: %s", opt.host, opt.port, strerror(errno));
    if (!opt.udp) {
        /* Requests are single small writes: don't let Nagle hold them back. */
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    return fd;
}

static void watch(struct conn *c, int op, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = c};
    if (epoll_ctl(epfd, op, c->fd, &ev) < 0)
        die("epoll_ctl: %s", strerror(errno));
}

/* Whether one more request may start under --requests; counts it if so,
   and waits for --wait-idle. */
static bool claim_request(void)
{
    if (opt.requests && started >= opt.requests)
        return false;
    started++;
    if (opt.idle_stat_fd >= 0)
        wait_idle();
    return true;
}

static bool done(void)
{
    return opt.requests && requests >= opt.requests;
}

/* ---- TCP / Unix stream ---- */

/* Writes what the socket takes of the current request; waits for EPOLLOUT
   only while a write is unfinished, so idle connections cost no wake-ups. */
static void stream_send(struct conn *c)
{
    while (c->sent < opt.msize) {
        ssize_t n = send(c->fd, payload + c->sent, opt.msize - c->sent, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno != EAGAIN)
                die("send: %s", strerror(errno));
            if (!c->want_out) {
                c->want_out = true;
                watch(c, EPOLL_CTL_MOD, EPOLLIN | EPOLLOUT);
            }
            return;
        }
        c->sent += n;
    }
    if (c->want_out) {
        c->want_out = false;
        watch(c, EPOLL_CTL_MOD, EPOLLIN);
    }
}

static void stream_start_request(struct conn *c)
{
    c->sent = c->received = 0;
    if (claim_request())
        stream_send(c);
}

/* Reads echoed bytes, checking them against what was sent; a complete echo
   counts a request and starts the next one. */
static void stream_receive(struct conn *c)
{
    for (;;) {
        ssize_t n = recv(c->fd, rbuf, rbuf_size, 0);
        if (n < 0) {
            if (errno == EAGAIN)
                return;
            die("recv: %s", strerror(errno));
        }
        if (n == 0)
            die("server closed a connection");
        if (c->received + n > c->sent)
            die("server sent %zu bytes more than were sent to it",
                c->received + n - c->sent);
        if (memcmp(rbuf, payload + c->received, n) != 0)
            die("echoed bytes differ from those sent");
        c->received += n;
        if (c->received == opt.msize) {
            requests++;
            stream_start_request(c);
        }
    }
}

/* ---- UDP ---- */

static void udp_send(struct conn *c, double t)
{
    memcpy(payload, &c->seq, SEQ_SIZE);
    if (send(c->fd, payload, opt.msize, 0) < 0 && errno != EAGAIN)
        die("send: %s", strerror(errno));
    /* A datagram the kernel refused (EAGAIN) is as good as lost: resent later. */
    c->deadline = t + opt.resend_after;
}

static void udp_start_request(struct conn *c, double t)
{
    if (claim_request())
        udp_send(c, t);
    else
        c->deadline = INFINITY;  /* nothing in flight: never resent */
}

/* Takes the echo of the datagram in flight; earlier ones that arrive late,
   after their resend, are dropped. */
static void udp_receive(struct conn *c)
{
    for (;;) {
        ssize_t n = recv(c->fd, rbuf, rbuf_size, 0);
        if (n < 0) {
            if (errno == EAGAIN)
                return;
            die("recv: %s", strerror(errno));
        }
        uint64_t seq;
        memcpy(&seq, rbuf, SEQ_SIZE);
        if ((size_t)n != opt.msize || seq > c->seq)
            die("echoed datagram differs from the one sent");
        if (seq < c->seq)
            continue;
        memcpy(payload, &c->seq, SEQ_SIZE);
        if (memcmp(rbuf, payload, n) != 0)
            die("echoed datagram differs from the one sent");
        requests++;
        c->seq++;
        udp_start_request(c, now());
    }
}

static void udp_resend_expired(struct conn *conns, double t)
{
    for (int i = 0; i < opt.conns; i++) {
        if (t >= conns[i].deadline) {
            resends++;
            udp_send(&conns[i], t);
        }
    }
}

/* ---- main loop ---- */

static void on_event(struct conn *c, uint32_t events)
{
    if (opt.udp) {
        udp_receive(c);
        return;
    }
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
        stream_receive(c);  /* also reports errors and hang-ups */
    if (events & EPOLLOUT)
        stream_send(c);
}

static struct conn *open_conns(void)
{
    struct conn *conns = calloc(opt.conns, sizeof(*conns));
    if (!conns)
        die("out of memory");
    for (int i = 0; i < opt.conns; i++) {
        conns[i].fd = opt.unix_path ? connect_unix() : connect_inet();
        set_nonblocking(conns[i].fd);
        watch(&conns[i], EPOLL_CTL_ADD, EPOLLIN);
    }
    return conns;
}

static void start_all(struct conn *conns, double t)
{
    for (int i = 0; i < opt.conns; i++) {
        if (opt.udp)
            udp_start_request(&conns[i], t);
        else
            stream_start_request(&conns[i]);
    }
}

/* Runs until the duration has passed, or until --requests are done; returns
   the seconds actually spent. */
static double run(struct conn *conns)
{
    struct epoll_event events[MAX_EVENTS];
    double start = now(), end = start + opt.duration, t = start;
    start_all(conns, start);
    while (t < end && !done()) {
        int timeout_ms = (int)((end - t) * 1000) + 1;
        if (opt.udp && timeout_ms > UDP_TICK_MS)
            timeout_ms = UDP_TICK_MS;
        int n = epoll_wait(epfd, events, MAX_EVENTS, timeout_ms);
        if (n < 0 && errno != EINTR)
            die("epoll_wait: %s", strerror(errno));
        for (int i = 0; i < n; i++)
            on_event(events[i].data.ptr, events[i].events);
        t = now();
        if (opt.udp)
            udp_resend_expired(conns, t);
    }
    return t - start;
}

int main(int argc, char **argv)
{
    parse_args(argc, argv);
    payload = malloc(opt.msize);
    /* Large enough for any echo chunk or datagram, and never tiny, so a big
       echo is drained in few reads. */
    rbuf_size = opt.msize > 65536 ? opt.msize : 65536;
    rbuf = malloc(rbuf_size);
    if (!payload || !rbuf)
        die("out of memory");
    for (size_t i = 0; i < opt.msize; i++)
        payload[i] = (unsigned char)(i * 31 + 7);
    if ((epfd = epoll_create1(0)) < 0)
        die("epoll_create1: %s", strerror(errno));

    struct conn *conns = open_conns();
    double seconds = run(conns);
    if (opt.requests && !done())
        die("only %llu of %llu requests within --duration",
            (unsigned long long)requests, opt.requests);

    printf("{\"requests\": %llu, \"seconds\": %.3f, \"req/s\": %.1f, \"MB/s\": %.3f",
           (unsigned long long)requests, seconds, requests / seconds,
           requests * (double)opt.msize / seconds / 1e6);
    if (opt.udp)
        printf(", \"resends\": %llu", (unsigned long long)resends);
    printf("}\n");
    return 0;
}
