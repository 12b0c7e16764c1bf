// wsload: the WebSocket load generator of bench/websocket.sh. One thread, one io_context,
// Boost.Beast's WebSocket client; built by the script with g++ -O2 (not part of the Meson build).
//
//   wsload echo -p PORT [-h HOST] [-u PATH] [-c CONNS] [-d SECONDS] [-s SIZE] [-b]
//     Opens CONNS connections (at most 64 handshakes at a time); once all are open, each one
//     sends a message of SIZE bytes (text, or binary with -b), waits for its echo and checks
//     that it is the message sent, over and over, for SECONDS. Then each connection sends a
//     close frame after its last round trip. Prints (stdout, one line each):
//       connected N in T s
//       roundtrips N seconds T rate R cpu S mismatches M errors E closed C
//     where N counts the round trips completed within the SECONDS (rate = N / T), S is this
//     process's CPU time (user + system, connecting and closing included) and C counts the
//     connections whose closing handshake finished. Exit status 0 only when every connection
//     opened, no echo differed from what was sent and no connection failed.
//
//   wsload idle -p PORT [-h HOST] [-u PATH] [-c CONNS]
//     Opens CONNS connections (handshake done, at most 64 at a time) and keeps them open,
//     sending nothing (a read stays posted on each, so a server's ping is answered and a close
//     is seen). Prints
//       ready N failed F [first error]
//     once every connection is open or has failed, then waits. A line "status" on stdin prints
//       open N closed C [first error]
//     (closed: connections the server ended since "ready"); end of stdin (or SIGTERM/SIGINT)
//     prints that line once more and exits.
//
// Each message is a window of a per-connection pattern that moves by one byte per round trip,
// so an echo of an earlier message, of another connection's message or a cut one is a mismatch.
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <sys/resource.h>
#include <unistd.h>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using asio::awaitable;
using asio::use_awaitable;
using tcp = asio::ip::tcp;
using ws_t = websocket::stream<tcp::socket>;  // no beast::tcp_stream: no timeouts, less work
using clk = std::chrono::steady_clock;

namespace {

struct Options {
  std::string mode, host = "127.0.0.1", path = "/ws.lsp";
  unsigned short port = 0;
  long conns = 100, seconds = 10, size = 64;
  bool binary = false;
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "wsload: %s\nusage: wsload echo|idle -p PORT [-h HOST] [-u PATH] [-c CONNS] "
               "[-d SECONDS] [-s SIZE] [-b]\n",
               why);
  std::exit(64);
}

long number(const char* s, long lo, long hi, const char* what) {
  char* end = nullptr;
  long v = std::strtol(s, &end, 10);
  if (*s == '\0' || *end != '\0' || v < lo || v > hi) usage(what);
  return v;
}

Options parse(int argc, char** argv) {
  Options o;
  if (argc < 2) usage("no mode");
  o.mode = argv[1];
  if (o.mode != "echo" && o.mode != "idle") usage("the mode is echo or idle");
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-b") { o.binary = true; continue; }
    if (i + 1 >= argc) usage("an option lacks its value");
    const char* v = argv[++i];
    if (a == "-p") o.port = static_cast<unsigned short>(number(v, 1, 65535, "bad -p"));
    else if (a == "-h") o.host = v;
    else if (a == "-u") o.path = v;
    else if (a == "-c") o.conns = number(v, 1, 1000000, "bad -c");
    else if (a == "-d") o.seconds = number(v, 1, 86400, "bad -d");
    else if (a == "-s") o.size = number(v, 0, 64L << 20, "bad -s");
    else usage("unknown option");
  }
  if (o.port == 0) usage("-p is required");
  return o;
}

// An exception's message; for a system error without Boost's source location.
std::string what(const std::exception& e) {
  if (auto* se = dynamic_cast<const boost::system::system_error*>(&e)) return se->code().message();
  return e.what();
}

// Opens one connection: TCP connect (no Nagle), then the WebSocket handshake.
awaitable<std::unique_ptr<ws_t>> open(const Options& o, const tcp::endpoint& ep) {
  auto ws = std::make_unique<ws_t>(co_await asio::this_coro::executor);
  co_await ws->next_layer().async_connect(ep, use_awaitable);
  ws->next_layer().set_option(tcp::no_delay(true));
  ws->secure_prng(false);  // masking keys from a fast generator (they only need to vary)
  ws->auto_fragment(false);
  ws->read_message_max(std::uint64_t(o.size) + (1 << 20));
  ws->binary(o.binary);
  co_await ws->async_handshake(o.host + ":" + std::to_string(o.port), o.path, use_awaitable);
  co_return ws;
}

// Runs `opener(i)` for i in [0, n) with at most `width` of them in flight (an opener returns
// once its connection is open; what it does then runs in a coroutine of its own).
template <class F>
void spawn_bounded(asio::io_context& ioc, long n, long width, F opener) {
  auto next = std::make_shared<long>(0);
  for (long w = 0; w < std::min(n, width); ++w) {
    asio::co_spawn(
        ioc,
        [next, n, opener]() -> awaitable<void> {
          while (*next < n) co_await opener((*next)++);
        },
        asio::detached);
  }
}

// What both modes share: the target, the failed opens and the first error.
struct Load {
  const Options& o;
  asio::io_context& ioc;
  tcp::endpoint ep;
  long failed = 0;
  std::string first_error{};

  void error(const std::string& what) {
    if (first_error.empty()) first_error = what;
  }
  // -> the open connection, or nullptr (counted in `failed`, the error kept).
  awaitable<std::unique_ptr<ws_t>> try_open() {
    try {
      co_return co_await open(o, ep);
    } catch (const std::exception& e) {
      ++failed;
      error(std::string("connect/handshake: ") + what(e));
    }
    co_return nullptr;
  }
};

// --- echo ------------------------------------------------------------------------------
struct Echo : Load {
  asio::steady_timer gate{ioc, clk::time_point::max()};  // cancelled when all are open
  asio::steady_timer guard{ioc};                         // ends the closing handshakes
  long tried = 0, finished = 0, closed = 0, errors = 0, mismatches = 0;
  bool counting = false, stopping = false;
  unsigned long long roundtrips = 0, counted = 0;
  clk::time_point t_open{}, t0{}, t1{};

  Echo(const Options& o, asio::io_context& ioc, tcp::endpoint ep) : Load{o, ioc, ep} {}

  void done() {
    if (++finished == o.conns) guard.cancel();
  }

  awaitable<void> connection(long i) {
    auto ws = co_await try_open();
    if (++tried == o.conns) gate.cancel();
    if (ws) asio::co_spawn(ioc, session(i, std::move(ws)), asio::detached);
    else done();
  }

  // One connection's round trips, once every connection is open.
  awaitable<void> session(long i, std::unique_ptr<ws_t> ws) {
    boost::system::error_code ec;
    if (tried < o.conns) co_await gate.async_wait(asio::redirect_error(use_awaitable, ec));
    if (failed) { done(); co_return; }
    // The pattern: SIZE + 256 bytes; round k sends the window starting at k % 256.
    std::string pattern(std::size_t(o.size) + 256, '\0');
    for (std::size_t j = 0; j < pattern.size(); ++j)
      pattern[j] = o.binary ? char((i * 7 + j) & 0xff) : char('a' + (i * 7 + j) % 26);
    beast::flat_buffer buf;
    try {
      for (unsigned long k = 0; !stopping; ++k) {
        const char* msg = pattern.data() + (o.binary ? k % 256 : k % 26);
        co_await ws->async_write(asio::buffer(msg, std::size_t(o.size)), use_awaitable);
        buf.clear();
        co_await ws->async_read(buf, use_awaitable);
        if (buf.size() != std::size_t(o.size) || ws->got_binary() != o.binary ||
            std::memcmp(buf.data().data(), msg, buf.size()) != 0)
          ++mismatches;
        ++roundtrips;
      }
      co_await ws->async_close(websocket::close_code::normal, use_awaitable);
      ++closed;
    } catch (const std::exception& e) {
      if (!stopping || counting) ++errors;  // a failure after the deadline only costs the close
      error(std::string("echo: ") + what(e));
    }
    done();
  }

  awaitable<void> clock() {
    boost::system::error_code ec;
    co_await gate.async_wait(asio::redirect_error(use_awaitable, ec));
    t0 = clk::now();
    std::printf("connected %ld in %.2f s\n", tried - failed, std::chrono::duration<double>(t0 - t_open).count());
    if (failed) co_return;
    counting = true;
    asio::steady_timer t(ioc, std::chrono::seconds(o.seconds));
    co_await t.async_wait(use_awaitable);
    t1 = clk::now();
    counted = roundtrips;
    counting = false;
    stopping = true;
    // Closing handshakes get 5 s; a server that does not answer its close is not waited for.
    guard.expires_after(std::chrono::seconds(5));
    co_await guard.async_wait(asio::redirect_error(use_awaitable, ec));
    if (!ec) ioc.stop();
  }

  int run() {
    t_open = clk::now();
    asio::co_spawn(ioc, clock(), asio::detached);
    spawn_bounded(ioc, o.conns, 64, [this](long i) { return connection(i); });
    ioc.run();
    double secs = std::chrono::duration<double>(t1 - t0).count();
    rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    double cpu = double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    if (failed)
      std::printf("roundtrips 0 seconds 0 rate 0 cpu %.3f mismatches 0 errors 0 closed 0 failed %ld: %s\n", cpu,
                  failed, first_error.c_str());
    else
      std::printf("roundtrips %llu seconds %.3f rate %.1f cpu %.3f mismatches %ld errors %ld closed %ld%s%s\n",
                  counted, secs, secs > 0 ? double(counted) / secs : 0.0, cpu, mismatches, errors, closed,
                  first_error.empty() ? "" : ": ", first_error.c_str());
    return (failed || errors || mismatches || counted == 0) ? 1 : 0;
  }
};

// --- idle ------------------------------------------------------------------------------
struct Idle : Load {
  long opened = 0, open_now = 0, closed = 0;
  bool ready = false;
  clk::time_point t_open{};

  Idle(const Options& o, asio::io_context& ioc, tcp::endpoint ep) : Load{o, ioc, ep} {}

  void status() {
    std::printf("open %ld closed %ld%s%s\n", open_now, closed, first_error.empty() ? "" : " ", first_error.c_str());
  }
  void check_ready() {
    if (opened + failed < o.conns) return;
    ready = true;
    std::printf("ready %ld failed %ld in %.2f s%s%s\n", opened, failed,
                std::chrono::duration<double>(clk::now() - t_open).count(), first_error.empty() ? "" : " ",
                first_error.c_str());
  }

  awaitable<void> connection(long) {
    auto ws = co_await try_open();
    if (ws) {
      ++opened;
      ++open_now;
    }
    check_ready();
    if (!ws) co_return;
    // The reader: a read stays posted; it ends when the server closes or fails.
    asio::co_spawn(
        ioc,
        [this, ws = std::move(ws)]() -> awaitable<void> {
          beast::flat_buffer buf;
          try {
            for (;;) {
              co_await ws->async_read(buf, use_awaitable);
              buf.clear();
            }
          } catch (const std::exception& e) {
            error(std::string("closed by the server: ") + what(e));
          }
          --open_now;
          if (ready) ++closed;
        },
        asio::detached);
  }

  awaitable<void> commands() {
    int fd = ::dup(0);
    asio::posix::stream_descriptor in(ioc);
    boost::system::error_code ec;
    in.assign(fd, ec);
    if (ec) {  // stdin not pollable (a file, /dev/null): wait for a signal
      ::close(fd);
      co_return;
    }
    std::string line;
    for (;;) {
      auto [rec, n] = co_await asio::async_read_until(in, asio::dynamic_buffer(line), '\n',
                                                     asio::as_tuple(use_awaitable));
      if (rec) break;
      if (line.compare(0, n, "status\n") == 0) status();
      line.erase(0, n);
    }
    status();
    ioc.stop();
  }

  int run() {
    t_open = clk::now();
    asio::signal_set sigs(ioc, SIGTERM, SIGINT);
    sigs.async_wait([this](const boost::system::error_code& ec, int) {
      if (!ec) { status(); ioc.stop(); }
    });
    asio::co_spawn(ioc, commands(), asio::detached);
    spawn_bounded(ioc, o.conns, 64, [this](long i) { return connection(i); });
    ioc.run();
    return 0;
  }
};

}  // namespace

int main(int argc, char** argv) {
  Options o = parse(argc, argv);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  asio::io_context ioc(1);
  tcp::endpoint ep;
  try {
    ep = tcp::endpoint(asio::ip::make_address(o.host), o.port);
  } catch (const std::exception&) {
    usage("-h takes an IP address");
  }
  if (o.mode == "echo") return Echo(o, ioc, ep).run();
  return Idle(o, ioc, ep).run();
}
