/*
 * rpc-baseline-c: the physical baseline for Leadline's RPC benchmark.
 *
 *   rpc-baseline-c server PATH            answer every line with a fixed reply of the size
 *                                         leadline's service.ping reply has (a thread per client)
 *   rpc-baseline-c client PATH CLIENTS SECONDS [REQUEST]
 *                                         CLIENTS threads, each one connection doing blocking
 *                                         request/reply round trips of a service.ping line
 *                                         (or REQUEST, one JSON-RPC line without its newline;
 *                                         in it, {seq} becomes a number unique to each call and
 *                                         {seq%M} that number modulo M, so that calls which must
 *                                         differ, such as enqueued leads, cost no generator in Swift);
 *                                         prints {"calls":N,"seconds":S,"p50_us":..,"p99_us":..}
 *
 *   rpc-baseline-c http-client HOST PORT CONNECTIONS SECONDS REQUESTS_FILE [RATE]
 *                                         keep-alive HTTP/1.1 load: each connection sends the raw
 *                                         requests of REQUESTS_FILE ("<length>\n<bytes>" records)
 *                                         in turn, one at a time, and counts 200 answers. With
 *                                         RATE (requests per second, all connections together)
 *                                         the load is open: request k is due at k/RATE seconds,
 *                                         and its latency counts from then, so a slow answer
 *                                         shows as the wait of the requests behind it instead
 *                                         of lowering the rate offered
 *
 * The same client drives both the C server and the Swift daemons, so the ratio between the two
 * runs is the cost of the daemon, not of the load generator.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

static const char PING[] = "{\"jsonrpc\":\"2.0\",\"method\":\"service.ping\",\"id\":1}\n";
static const char *request_line = PING;
static size_t request_length = sizeof(PING) - 1;
static long error_replies = 0;
/* REQUEST cut at its {seq} and {seq%M} placeholders: literal pieces, and after each piece but
 * the last, the modulus of the placeholder that follows it (0: the number itself). */
#define MAX_PIECES 32
static const char *pieces[MAX_PIECES];
static size_t piece_lengths[MAX_PIECES];
static long piece_modulus[MAX_PIECES];
static int piece_count = 0;
static long next_sequence = 0;

static void parse_template(const char *text) {
    const char *cursor = text;
    for (;;) {
        const char *open = strstr(cursor, "{seq");
        const char *close = open ? strchr(open, '}') : NULL;
        if (!open || !close || piece_count == MAX_PIECES - 1) break;
        long modulus = 0;
        if (open[4] == '%') modulus = atol(open + 5);
        else if (open[4] != '}') break;
        pieces[piece_count] = cursor;
        piece_lengths[piece_count] = open - cursor;
        piece_modulus[piece_count] = modulus;
        piece_count++;
        cursor = close + 1;
    }
    pieces[piece_count] = cursor;
    piece_lengths[piece_count] = strlen(cursor);
    piece_count++;
}

/* The next call's line, with its newline, into out; returns its length. */
static size_t render_request(char *out, size_t capacity) {
    if (piece_count <= 1) {
        memcpy(out, request_line, request_length);
        return request_length;
    }
    long sequence = __atomic_fetch_add(&next_sequence, 1, __ATOMIC_RELAXED);
    size_t used = 0;
    for (int i = 0; i < piece_count; i++) {
        if (used + piece_lengths[i] + 24 >= capacity) break;
        memcpy(out + used, pieces[i], piece_lengths[i]);
        used += piece_lengths[i];
        if (i < piece_count - 1) {
            long value = piece_modulus[i] > 0 ? sequence % piece_modulus[i] : sequence;
            used += snprintf(out + used, capacity - used, "%ld", value);
        }
    }
    out[used++] = '\n';
    return used;
}

static const char REPLY[] = "{\"jsonrpc\":\"2.0\",\"result\":{\"pong\":true,\"time\":\"2026-12-01T10:00:00.000Z\"},\"id\":1}\n";

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int connect_unix(const char *path) {
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    strncpy(addr.sun_path, path, sizeof(addr.sun_path) - 1);
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
        perror("connect");
        exit(1);
    }
    return fd;
}

/* Reads until a newline; returns bytes read or -1. */
static int read_line(int fd, char *buf, int cap) {
    int used = 0;
    for (;;) {
        int n = read(fd, buf + used, cap - used);
        if (n <= 0) return -1;
        used += n;
        if (memchr(buf + used - n, '\n', n)) return used;
        if (used == cap) return -1;
    }
}

static void *serve_client(void *arg) {
    int fd = (int)(long)arg;
    char buf[65536];
    size_t used = 0;
    for (;;) {
        ssize_t n = read(fd, buf + used, sizeof(buf) - used);
        if (n <= 0) break;
        used += n;
        char *start = buf, *nl;
        while ((nl = memchr(start, '\n', buf + used - start))) {
            if (write(fd, REPLY, sizeof(REPLY) - 1) < 0) goto done;
            start = nl + 1;
        }
        used = buf + used - start;
        memmove(buf, start, used);
    }
done:
    close(fd);
    return NULL;
}

static int run_server(const char *path) {
    unlink(path);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    strncpy(addr.sun_path, path, sizeof(addr.sun_path) - 1);
    if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(fd, 256) != 0) {
        perror("bind");
        return 1;
    }
    for (;;) {
        int client = accept(fd, NULL, NULL);
        if (client < 0) continue;
        pthread_t thread;
        pthread_create(&thread, NULL, serve_client, (void *)(long)client);
        pthread_detach(thread);
    }
}

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Latencies each load thread recorded; merged, sorted and printed as one JSON line. */
struct latencies {
    double *values;
    long count;
    long capacity;
};

static void record(struct latencies *l, double value) {
    if (l->count == l->capacity) {
        l->capacity = l->capacity ? l->capacity * 2 : 65536;
        l->values = realloc(l->values, l->capacity * sizeof(double));
    }
    l->values[l->count++] = value;
}

static int report(struct latencies *per_thread, int threads, double elapsed, long errors) {
    long total = 0;
    for (int i = 0; i < threads; i++) total += per_thread[i].count;
    double *all = malloc((total ? total : 1) * sizeof(double));
    long k = 0;
    for (int i = 0; i < threads; i++) {
        memcpy(all + k, per_thread[i].values, per_thread[i].count * sizeof(double));
        k += per_thread[i].count;
        free(per_thread[i].values);
    }
    qsort(all, total, sizeof(double), compare);
    printf("{\"calls\":%ld,\"errors\":%ld,\"seconds\":%.3f,\"p50_us\":%.1f,\"p99_us\":%.1f}\n", total, errors,
           elapsed, total ? all[total / 2] : 0, total ? all[(long)(total * 0.99)] : 0);
    free(all);
    return total > 0 ? 0 : 1;
}

struct worker {
    const char *path;
    double seconds;
    struct latencies latencies;
};

static void *client_worker(void *arg) {
    struct worker *w = arg;
    int fd = connect_unix(w->path);
    char buf[4096];
    char *line = malloc(request_length + 24 * MAX_PIECES);
    double end = now_us() + w->seconds * 1e6;
    while (now_us() < end) {
        double start = now_us();
        size_t length = render_request(line, request_length + 24 * MAX_PIECES);
        int got;
        if (write(fd, line, length) < 0 || (got = read_line(fd, buf, sizeof(buf))) < 0) {
            fprintf(stderr, "client: connection lost\n");
            break;
        }
        if (memmem(buf, got, "\"error\"", 7)) __atomic_add_fetch(&error_replies, 1, __ATOMIC_RELAXED);
        record(&w->latencies, now_us() - start);
    }
    free(line);
    close(fd);
    return NULL;
}


static int run_client(const char *path, int clients, double seconds) {
    pthread_t threads[clients];
    struct worker workers[clients];
    struct latencies results[clients];
    double started = now_us();
    for (int i = 0; i < clients; i++) {
        workers[i] = (struct worker){path, seconds, {0}};
        pthread_create(&threads[i], NULL, client_worker, &workers[i]);
    }
    for (int i = 0; i < clients; i++) {
        pthread_join(threads[i], NULL);
        results[i] = workers[i].latencies;
    }
    return report(results, clients, (now_us() - started) / 1e6, error_replies);
}

/* ---- HTTP load for the webhook benchmark ---- */

static char **http_requests;
static size_t *http_lengths;
static long http_count;
static long http_next;
static long http_not_ok;
static double http_rate;
static double http_started;
static const char *http_host;
static int http_port;

struct http_worker {
    double seconds;
    struct latencies latencies;
};

static int connect_tcp(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(http_port)};
    inet_pton(AF_INET, http_host, &addr.sin_addr);
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
        perror("connect");
        exit(1);
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

/* Reads one response (headers + Content-Length body); returns its status or -1. */
static int read_response(int fd, char *buf, int cap) {
    int used = 0;
    for (;;) {
        int n = read(fd, buf + used, cap - 1 - used);
        if (n <= 0) return -1;
        used += n;
        buf[used] = 0;
        char *end = strstr(buf, "\r\n\r\n");
        if (!end) continue;
        char *length = strcasestr(buf, "content-length:");
        int body = length ? atoi(length + 15) : 0;
        int total = (int)(end - buf) + 4 + body;
        while (used < total) {
            n = read(fd, buf + used, cap - 1 - used);
            if (n <= 0) return -1;
            used += n;
        }
        return atoi(buf + 9);
    }
}

static void *http_worker_run(void *arg) {
    struct http_worker *w = arg;
    int fd = connect_tcp();
    char buf[65536];
    double end = now_us() + w->seconds * 1e6;
    for (;;) {
        /* Open loop: every request due before the end is sent, late or not, so a stall near the
           end still shows in the tail instead of cutting the requests behind it. */
        if (http_rate <= 0 && now_us() >= end) break;
        long sequence = __atomic_fetch_add(&http_next, 1, __ATOMIC_RELAXED);
        long index = sequence % http_count;
        double start = now_us();
        if (http_rate > 0) {
            double due = http_started + sequence * 1e6 / http_rate;
            if (due >= end) break;
            if (due > start) {
                double wait = due - start;
                struct timespec pause = {(time_t)(wait / 1e6), (long)((wait - (time_t)(wait / 1e6) * 1e6) * 1e3)};
                nanosleep(&pause, NULL);
            }
            start = due;
        }
        if (write(fd, http_requests[index], http_lengths[index]) < 0) break;
        int status = read_response(fd, buf, sizeof(buf));
        if (status < 0) {
            /* No answer is an error too, whatever the reason the connection went. */
            __atomic_add_fetch(&http_not_ok, 1, __ATOMIC_RELAXED);
            close(fd);
            fd = connect_tcp();
            continue;
        }
        if (status != 200) __atomic_add_fetch(&http_not_ok, 1, __ATOMIC_RELAXED);
        record(&w->latencies, now_us() - start);
    }
    close(fd);
    return NULL;
}

static int run_http(const char *host, int port, int connections, double seconds, const char *file, double rate) {
    FILE *f = fopen(file, "rb");
    if (!f) {
        perror("requests file");
        return 1;
    }
    long capacity = 1024;
    http_requests = malloc(capacity * sizeof(char *));
    http_lengths = malloc(capacity * sizeof(size_t));
    size_t length;
    while (fscanf(f, "%zu\n", &length) == 1) {
        if (http_count == capacity) {
            capacity *= 2;
            http_requests = realloc(http_requests, capacity * sizeof(char *));
            http_lengths = realloc(http_lengths, capacity * sizeof(size_t));
        }
        http_requests[http_count] = malloc(length);
        if (fread(http_requests[http_count], 1, length, f) != length) break;
        http_lengths[http_count++] = length;
    }
    fclose(f);
    http_host = host;
    http_port = port;
    pthread_t threads[connections];
    struct http_worker workers[connections];
    struct latencies results[connections];
    double started = now_us();
    http_rate = rate;
    http_started = started;
    for (int i = 0; i < connections; i++) {
        workers[i] = (struct http_worker){seconds, {0}};
        pthread_create(&threads[i], NULL, http_worker_run, &workers[i]);
    }
    for (int i = 0; i < connections; i++) {
        pthread_join(threads[i], NULL);
        results[i] = workers[i].latencies;
    }
    return report(results, connections, (now_us() - started) / 1e6, http_not_ok);
}

int main(int argc, char **argv) {
    if ((argc == 7 || argc == 8) && strcmp(argv[1], "http-client") == 0)
        return run_http(argv[2], atoi(argv[3]), atoi(argv[4]), atof(argv[5]), argv[6], argc == 8 ? atof(argv[7]) : 0);
    if (argc == 3 && strcmp(argv[1], "server") == 0) return run_server(argv[2]);
    if ((argc == 5 || argc == 6) && strcmp(argv[1], "client") == 0) {
        if (argc == 6) {
            size_t length = strlen(argv[5]);
            char *line = malloc(length + 2);
            memcpy(line, argv[5], length);
            line[length] = '\n';
            line[length + 1] = 0;
            request_line = line;
            request_length = length + 1;
            parse_template(argv[5]);
        }
        return run_client(argv[2], atoi(argv[3]), atof(argv[4]));
    }
    fprintf(stderr, "usage: rpc-baseline-c server PATH | client PATH CLIENTS SECONDS [REQUEST]\n");
    return 2;
}
