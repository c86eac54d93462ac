/* The TLS load client of bench_tls.py (built by it into bench/build/tlsclient):
 * one client, in C with OpenSSL, for every server measured, so that the server's
 * cost is what differs, and the client keeps up with the fastest server.
 *
 *   tlsclient echo HOST PORT CAFILE MSIZE CONNS SECONDS
 *       CONNS connections, one MSIZE-byte message in flight on each, every echoed
 *       byte checked; prints {"requests": N, "req/s": R}.
 *   tlsclient bulk HOST PORT CAFILE NBYTES
 *       reads until the server closes; prints {"bytes": N, "MB/s": R} (wall time
 *       from connect to the end). Fails if fewer than NBYTES came.
 *   tlsclient upload HOST PORT CAFILE NBYTES
 *       writes NBYTES in 64 KiB writes, then waits for the server's one-byte
 *       acknowledgement; prints {"bytes": N, "MB/s": R} (connect to acknowledgement).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what) {
    fprintf(stderr, "tlsclient: %s\n", what);
    ERR_print_errors_fp(stderr);
    exit(1);
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static SSL *connect_tls(SSL_CTX *ctx, const char *host, int port) {
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    if (fd < 0 || inet_pton(AF_INET, host, &addr.sin_addr) != 1)
        die("socket");
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0)
        die("connect");
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    SSL *ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, "localhost");
    SSL_set1_host(ssl, "localhost");
    if (SSL_connect(ssl) != 1)
        die("handshake");
    return ssl;
}

struct conn {
    SSL *ssl;
    size_t got;
};

static int echo(SSL_CTX *ctx, const char *host, int port, size_t msize, int nconns,
                double seconds) {
    unsigned char *message = malloc(msize), *reply = malloc(msize);
    struct conn *conns = calloc(nconns, sizeof *conns);
    struct epoll_event ev, events[64];
    int ep = epoll_create1(0);
    long requests = 0;
    for (size_t i = 0; i < msize; i++)
        message[i] = (unsigned char)(i * 7 + 3);
    for (int i = 0; i < nconns; i++) {
        conns[i].ssl = connect_tls(ctx, host, port);
        int fd = SSL_get_fd(conns[i].ssl);
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        ev.events = EPOLLIN;
        ev.data.ptr = &conns[i];
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
        if (SSL_write(conns[i].ssl, message, msize) != (int)msize)
            die("write");
    }
    double start = now(), deadline = start + seconds;
    while (now() < deadline) {
        int n = epoll_wait(ep, events, 64, 100);
        for (int e = 0; e < n; e++) {
            struct conn *c = events[e].data.ptr;
            for (;;) {
                int r = SSL_read(c->ssl, reply + c->got, msize - c->got);
                if (r <= 0) {
                    if (SSL_get_error(c->ssl, r) == SSL_ERROR_WANT_READ)
                        break;
                    die("read");
                }
                c->got += r;
                if (c->got == msize) {
                    if (memcmp(reply, message, msize) != 0)
                        die("echoed bytes differ from those sent");
                    c->got = 0;
                    requests++;
                    if (SSL_write(c->ssl, message, msize) != (int)msize)
                        die("write");
                }
            }
        }
    }
    double elapsed = now() - start;
    printf("{\"requests\": %ld, \"req/s\": %f}\n", requests, requests / elapsed);
    return 0;
}

static int bulk(SSL_CTX *ctx, const char *host, int port, long long expected) {
    static unsigned char buffer[256 * 1024];
    double start = now();
    SSL *ssl = connect_tls(ctx, host, port);
    long long total = 0;
    for (;;) {
        int r = SSL_read(ssl, buffer, sizeof buffer);
        if (r <= 0)
            break;
        total += r;
    }
    double elapsed = now() - start;
    if (total < expected)
        die("the server sent less than asked");
    printf("{\"bytes\": %lld, \"MB/s\": %f}\n", total, total / elapsed / 1e6);
    return 0;
}

static int upload(SSL_CTX *ctx, const char *host, int port, long long total) {
    static unsigned char chunk[64 * 1024];
    unsigned char ack;
    memset(chunk, 'u', sizeof chunk);
    double start = now();
    SSL *ssl = connect_tls(ctx, host, port);
    for (long long sent = 0; sent < total; sent += sizeof chunk)
        if (SSL_write(ssl, chunk, sizeof chunk) != (int)sizeof chunk)
            die("write");
    if (SSL_read(ssl, &ack, 1) != 1)
        die("no acknowledgement");
    double elapsed = now() - start;
    printf("{\"bytes\": %lld, \"MB/s\": %f}\n", total, total / elapsed / 1e6);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 5)
        die("usage: tlsclient echo|bulk|upload HOST PORT CAFILE ...");
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx || SSL_CTX_load_verify_locations(ctx, argv[4], NULL) != 1)
        die("CA file");
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    int port = atoi(argv[3]);
    if (strcmp(argv[1], "echo") == 0 && argc == 8)
        return echo(ctx, argv[2], port, atol(argv[5]), atoi(argv[6]), atof(argv[7]));
    if (strcmp(argv[1], "bulk") == 0 && argc == 6)
        return bulk(ctx, argv[2], port, atoll(argv[5]));
    if (strcmp(argv[1], "upload") == 0 && argc == 6)
        return upload(ctx, argv[2], port, atoll(argv[5]));
    die("bad arguments");
}
