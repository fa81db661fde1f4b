// kafka_broker [--port P] [--brokers N] [--topic name:partitions ...]
// A Kafka cluster for tests and the demo: librdkafka's mock cluster (the Kafka
// protocol over TCP on 127.0.0.1). Prints "bootstrap <host:port,...>" and runs
// until SIGINT or SIGTERM.
//
// librdkafka 2.0.2's mock brokers listen on ports the system picks. With
// --port P, 127.0.0.1:P forwards to the first broker: a client bootstraps
// there and then talks to the brokers the cluster's metadata names.
#include <csignal>
#include <cstdio>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

namespace {

int connect_to(const std::string& host_port) {
  auto colon = host_port.rfind(':');
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(std::stoi(host_port.substr(colon + 1))));
  inet_pton(AF_INET, host_port.substr(0, colon).c_str(), &a.sin_addr);
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

/// Copies bytes both ways until either side closes.
void pipe_both(int a, int b) {
  char buf[65536];
  pollfd fds[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
  for (;;) {
    if (::poll(fds, 2, -1) < 0)
      break;
    bool done = false;
    for (int i = 0; i < 2 && !done; ++i)
      if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) {
        auto n = ::read(fds[i].fd, buf, sizeof buf);
        if (n <= 0)
          done = true;
        for (ssize_t off = 0; n > 0 && off < n;) {
          auto w = ::write(fds[1 - i].fd, buf + off, static_cast<size_t>(n - off));
          if (w <= 0) {
            done = true;
            break;
          }
          off += w;
        }
      }
    if (done)
      break;
  }
  ::close(a);
  ::close(b);
}

/// Listens on 127.0.0.1:port; forwards each connection to `target`.
int listen_on(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 64) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"A Kafka mock cluster (librdkafka) on 127.0.0.1"};
  int port = 0;
  int brokers = 1;
  std::vector<std::string> topics;
  app.add_option("--port", port, "bootstrap port forwarding to the first broker (0: none)")
    ->check(CLI::Range(0, 65535));
  app.add_option("--brokers", brokers, "number of brokers")->check(CLI::Range(1, 64));
  app.add_option("--topic", topics, "a topic to create, as name:partitions");
  CLI11_PARSE(app, argc, argv);

  // The signals are taken by sigwait below, in no thread of librdkafka's.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

  std::vector<std::pair<std::string, int>> specs;
  for (auto& t : topics) {
    auto colon = t.rfind(':');
    int n = 0;
    try {
      n = colon == std::string::npos ? 0 : std::stoi(t.substr(colon + 1));
    } catch (const std::exception&) {
    }
    if (colon == 0 || n < 1) {
      std::cerr << "kafka_broker: --topic expects name:partitions (partitions >= 1), got '" << t
                << "'\n";
      return 2;
    }
    specs.emplace_back(t.substr(0, colon), n);
  }

  char err[512];
  auto* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err); // no warning about its bootstrap
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!rk) {
    std::cerr << "kafka_broker: " << err << "\n";
    return 1;
  }
  auto* mc = rd_kafka_mock_cluster_new(rk, brokers);
  if (!mc) {
    std::cerr << "kafka_broker: cannot start the mock cluster\n";
    return 1;
  }
  for (auto& [name, n] : specs)
    if (auto e = rd_kafka_mock_topic_create(mc, name.c_str(), n, 1)) {
      std::cerr << "kafka_broker: cannot create topic '" << name << "': " << rd_kafka_err2str(e)
                << "\n";
      return 1;
    }
  std::string bootstrap = rd_kafka_mock_cluster_bootstraps(mc);
  if (port > 0) {
    int lfd = listen_on(port);
    if (lfd < 0) {
      std::cerr << "kafka_broker: cannot listen on 127.0.0.1:" << port << "\n";
      return 1;
    }
    auto first = bootstrap.substr(0, bootstrap.find(','));
    std::thread{[lfd, first] {
      for (;;) {
        int c = ::accept(lfd, nullptr, nullptr);
        if (c < 0)
          continue;
        int b = connect_to(first);
        if (b < 0) {
          ::close(c);
          continue;
        }
        std::thread{pipe_both, c, b}.detach();
      }
    }}.detach();
    bootstrap = "127.0.0.1:" + std::to_string(port);
  }
  std::cout << "bootstrap " << bootstrap << std::endl;
  int sig = 0;
  sigwait(&sigs, &sig);
  rd_kafka_mock_cluster_destroy(mc);
  rd_kafka_destroy(rk);
  return 0;
}
