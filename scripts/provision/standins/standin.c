/*
 * mailkind's stand-in for workload images the kind tier cannot have (docs/testing-kind.md):
 * KumoMTA (kumod, tsa-daemon), Dragonfly, Mailman core and web, Postgres. No upstream code: it
 * only answers the probes the manifests declare, so rollouts, Services, NodePorts and the
 * lifecycle commands can be exercised on a real cluster. It does NOT deliver, shape, store or
 * list mail. The role comes from the name it is run as (argv[0]), which is the command or
 * entrypoint the manifests use:
 *
 *   kumod          HTTP :8000 (GET /api/check-liveness/v1), SMTP ports :2525 and :2587 answer
 *                  "421" and close (nothing is accepted)
 *   tsa-daemon     HTTP :8008 (GET /tsa/status)
 *   dragonfly      RESP :6379: PING -> +PONG, anything else -> an error
 *   redis-cli      `redis-cli -h H -p P PING`: sends PING, prints the reply (the probe's client)
 *   postgres       TCP :5432 accepted and closed (pg_isready is the probe's client)
 *   pg_isready     `pg_isready -h H -p P ...`: exit 0 when the port accepts a connection
 *   mailman-core   HTTP :8001 (GET /3.1/system/versions), LMTP :8024 answers 421
 *   mailman-web    HTTP :8000 (GET /postorius/lists/, GET /)
 *
 * Single-threaded: one poll() over the listening sockets, each connection answered and closed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

enum proto { HTTP, SMTP421, RESP, ACCEPT_CLOSE };

struct listener {
  int port;
  enum proto proto;
  const char *ok_paths[3]; /* HTTP: paths answered 200, others 404 */
};

struct role {
  const char *name;
  struct listener listeners[3];
  int count;
};

static const struct role roles[] = {
  {"kumod", {{8000, HTTP, {"/api/check-liveness/v1"}}, {2525, SMTP421, {0}}, {2587, SMTP421, {0}}}, 3},
  {"tsa-daemon", {{8008, HTTP, {"/tsa/status"}}}, 1},
  {"dragonfly", {{6379, RESP, {0}}}, 1},
  {"postgres", {{5432, ACCEPT_CLOSE, {0}}}, 1},
  {"mailman-core", {{8001, HTTP, {"/3.1/system/versions", "/3.1/system"}}, {8024, SMTP421, {0}}}, 2},
  {"mailman-web", {{8000, HTTP, {"/postorius/lists/", "/"}}}, 1},
};

static const char *base(const char *path) {
  const char *slash = strrchr(path, '/');
  return slash ? slash + 1 : path;
}

static void on_term(int sig) {
  (void)sig;
  _exit(0);
}

static int listen_on(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  struct sockaddr_in addr = {0};
  if (fd < 0) return -1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((unsigned short)port);
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(fd, 64) < 0) {
    close(fd);
    return -1;
  }
  return fd;
}

static void write_all(int fd, const char *s) {
  size_t left = strlen(s);
  while (left > 0) {
    ssize_t n = write(fd, s, left);
    if (n <= 0) return;
    s += n;
    left -= (size_t)n;
  }
}

/* reads until the end of the request head (or the buffer is full, or 2 s pass) */
static ssize_t read_head(int fd, char *buf, size_t size) {
  size_t have = 0;
  struct timeval tv = {2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  while (have + 1 < size) {
    ssize_t n = read(fd, buf + have, size - 1 - have);
    if (n <= 0) break;
    have += (size_t)n;
    buf[have] = 0;
    /* an HTTP head ends with an empty line; a RESP PING (inline or array) ends with PING\r\n */
    if (strstr(buf, "\r\n\r\n") || strstr(buf, "PING\r\n") || strstr(buf, "ping\r\n")) break;
  }
  buf[have] = 0;
  return (ssize_t)have;
}

static void serve(int fd, const struct listener *l, const char *role) {
  char buf[4096], reply[512];
  switch (l->proto) {
    case SMTP421:
      snprintf(reply, sizeof reply, "421 mailkind stand-in for %s: no mail is accepted here\r\n", role);
      write_all(fd, reply);
      break;
    case ACCEPT_CLOSE:
      break;
    case RESP:
      if (read_head(fd, buf, sizeof buf) > 0) {
        /* inline "PING\r\n" or the RESP array *1\r\n$4\r\nPING\r\n */
        write_all(fd, strstr(buf, "PING") || strstr(buf, "ping") ? "+PONG\r\n" : "-ERR mailkind stand-in answers PING only\r\n");
      }
      break;
    case HTTP: {
      char method[8] = "", path[1024] = "";
      int ok = 0;
      if (read_head(fd, buf, sizeof buf) <= 0 || sscanf(buf, "%7s %1023s", method, path) != 2) break;
      for (int i = 0; i < 3 && l->ok_paths[i]; i++) {
        if (strcmp(path, l->ok_paths[i]) == 0) ok = 1;
      }
      snprintf(buf, sizeof buf, "{\"standin\":\"%s\",\"path\":\"%s\"}\n", role, ok ? path : "unknown");
      snprintf(reply, sizeof reply,
               "HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
               ok ? "200 OK" : "404 Not Found", strlen(buf));
      write_all(fd, reply);
      write_all(fd, buf);
      break;
    }
  }
}

/* redis-cli -h HOST -p PORT PING / pg_isready -h HOST -p PORT: the probes' clients */
static int client(int argc, char **argv, int default_port, int resp) {
  const char *host = "127.0.0.1";
  char port[16], buf[256];
  struct addrinfo hints = {0}, *res;
  int fd;
  snprintf(port, sizeof port, "%d", default_port);
  for (int i = 1; i + 1 < argc; i++) {
    if (strcmp(argv[i], "-h") == 0) host = argv[++i];
    else if (strcmp(argv[i], "-p") == 0) snprintf(port, sizeof port, "%s", argv[++i]);
  }
  hints.ai_socktype = SOCK_STREAM;
  if (getaddrinfo(host, port, &hints, &res) != 0) return 2;
  fd = socket(res->ai_family, SOCK_STREAM, 0);
  if (fd < 0 || connect(fd, res->ai_addr, res->ai_addrlen) < 0) {
    fprintf(stderr, "%s: cannot connect to %s:%s: %s\n", base(argv[0]), host, port, strerror(errno));
    return resp ? 1 : 2;
  }
  if (!resp) {
    printf("%s:%s - accepting connections\n", host, port);
    return 0;
  }
  write_all(fd, "*1\r\n$4\r\nPING\r\n");
  ssize_t n = read(fd, buf, sizeof buf - 1);
  if (n <= 0) return 1;
  buf[n] = 0;
  /* redis-cli prints a simple string without its "+" and the line end */
  buf[strcspn(buf, "\r\n")] = 0;
  printf("%s\n", buf[0] == '+' ? buf + 1 : buf);
  return buf[0] == '+' ? 0 : 1;
}

int main(int argc, char **argv) {
  const char *name = base(argv[0]);
  const struct role *role = NULL;
  struct pollfd fds[3];

  if (strcmp(name, "redis-cli") == 0) return client(argc, argv, 6379, 1);
  if (strcmp(name, "pg_isready") == 0) return client(argc, argv, 5432, 0);
  for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++) {
    if (strcmp(name, roles[i].name) == 0) role = &roles[i];
  }
  if (!role) {
    fprintf(stderr, "mailkind stand-in: unknown role %s\n", name);
    return 2;
  }
  signal(SIGTERM, on_term);
  signal(SIGINT, on_term);
  signal(SIGPIPE, SIG_IGN);
  for (int i = 0; i < role->count; i++) {
    fds[i].fd = listen_on(role->listeners[i].port);
    fds[i].events = POLLIN;
    if (fds[i].fd < 0) {
      fprintf(stderr, "mailkind stand-in %s: cannot listen on %d: %s\n", name, role->listeners[i].port, strerror(errno));
      return 1;
    }
  }
  fprintf(stderr, "mailkind stand-in %s: answering probes only (not the real program)\n", name);
  for (;;) {
    if (poll(fds, (nfds_t)role->count, -1) < 0) continue;
    for (int i = 0; i < role->count; i++) {
      if (!(fds[i].revents & POLLIN)) continue;
      int c = accept(fds[i].fd, NULL, NULL);
      if (c < 0) continue;
      serve(c, &role->listeners[i], name);
      close(c);
    }
  }
}
