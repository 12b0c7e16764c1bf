// Template definitions of basic_server<P> and its connections.
#pragma once
#include <remora/http/message.hpp>
#include <remora/http/util.hpp>
#include <remora/net/impl/stream_impl.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <array>
#include <charconv>
#include <csignal>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <optional>
#include <thread>

namespace remora {
namespace detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

// Whether the calling thread runs one of the server's loops.
inline bool& on_loop_thread() noexcept {
  thread_local bool v = false;
  return v;
}

// "Date: ...\r\n" for the current second, per thread.
inline const std::string& date_line() {
  thread_local std::time_t cached = 0;
  thread_local std::string line;
  std::time_t now = std::time(nullptr);
  if (now != cached) {
    cached = now;
    line = "Date: " + http::format_date(now) + "\r\n";
  }
  return line;
}

template<class P>
class connection final : public conn_base, public std::enable_shared_from_this<connection<P>> {
 public:
  using executor_type =
      decltype(P::thread::make_executor(std::declval<asio::io_context::executor_type>()));
  using socket_type = typename P::io::template socket<executor_type>;
  using stream_type = typename P::tls::template stream<socket_type>;
  using tls_context = typename P::tls::context;

  connection(socket_type s, std::shared_ptr<server_state> st, std::shared_ptr<tls_context> tls = nullptr)
      : sock_(std::move(s)), st_(std::move(st)), tls_(std::move(tls)) {}
  // A stream handed back by a Lua socket (ba.socket.sock2req), with bytes already read.
  connection(stream_type s, std::shared_ptr<server_state> st, std::string_view read)
      : sock_(std::move(s)), st_(std::move(st)) {
    if (read.empty()) return;
    auto space = buf_.prepare(read.size());
    std::memcpy(space.data(), read.data(), read.size());
    buf_.commit(read.size());
  }
  ~connection() override { st_->conns.remove(*this); }

  void start() {
    if constexpr (P::tls::enabled) {
      if (tls_) {  // a TLS listener: the handshake runs inside the first reads
        auto session = tls_->accept();
        tls_.reset();
        if (!session) return close();  // no certificate loaded
        sock_.secure(std::move(session));
      }
    }
    if constexpr (requires(beast::error_code& e) { sock_.remote_endpoint(e); }) {
      beast::error_code ec;
      auto r = sock_.remote_endpoint(ec);
      if (!ec) {
        peer_ip_ = net::info_of(r.address(), r.port()).ip;
        peer_port_ = r.port();
      }
      auto l = sock_.local_endpoint(ec);
      if (!ec) {
        local_ip_ = l.address().to_string();
        local_port_ = l.port();
      }
    }
    set_deadline(st_->config.headertimeout);
    begin_request();
  }

  // Over the connection limit: a 503 and a clean close, without reading a request (a TLS
  // connection, before its handshake, is closed).
  void reject() {
    if (tls_) return close();
    set_deadline(2);
    res_.error_page(503);
    res_.set_header("Retry-After", "1");
    version_ = 11;
    send(false, false);
  }

  void expire() override {
    asio::post(sock_.get_executor(), [self = this->shared_from_this()] { self->close(); });
  }
  executor_type get_executor() { return sock_.get_executor(); }

 private:
  // The TCP socket under the stream, and whether the stream is that socket (no TLS).
  socket_type& raw() noexcept {
    if constexpr (P::tls::enabled) return sock_.next_layer();
    else return sock_;
  }
  bool plain() const noexcept {
    if constexpr (P::tls::enabled) return !sock_.is_secure();
    else return true;
  }

  void set_deadline(unsigned seconds) {
    deadline.store(now_ms() + std::int64_t(seconds) * 1000, std::memory_order_relaxed);
  }

  void begin_request() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(st_->config.reqmaxsz));
    parser_->body_limit(st_->config.reqbodymax);
    in_request_ = header_done_ = false;
    busy.store(false, std::memory_order_relaxed);
    parse();
  }

  void parse() {
    for (;;) {
      if (buf_.size() == 0) return read();
      if (!in_request_) {  // first byte of a request: the header clock starts
        in_request_ = true;
        set_deadline(st_->config.headertimeout);
      }
      beast::error_code ec;
      std::size_t used = parser_->put(buf_.data(), ec);
      buf_.consume(used);
      if (ec == bhttp::error::need_more) return read();
      if (ec) return fail(ec);
      if (parser_->is_header_done() && !header_done_) {
        header_done_ = true;
        busy.store(true, std::memory_order_relaxed);  // a graceful stop lets this one finish
        if (!parser_->is_done()) set_deadline(st_->config.iotimeout);  // a body follows
        if (!on_header()) return;
      }
      if (parser_->is_done()) return handle();
      if (used == 0) return read();
    }
  }

  void read() {
    auto space = buf_.prepare(16 * 1024);
    sock_.async_read_some(space, [self = this->shared_from_this()](beast::error_code ec, std::size_t n) {
      self->on_read(ec, n);
    });
  }

  void on_read(beast::error_code ec, std::size_t n) {
    if (ec) return close();
    buf_.commit(n);
    if (header_done_) set_deadline(st_->config.iotimeout);
    parse();
  }

  // Checks that need the header only. False when a response is already under way.
  bool on_header() {
    auto& m = parser_->get();
    version_ = m.version() == 10 ? 10 : 11;
    if (m.method() == bhttp::verb::unknown) return error(501), false;
    auto expect = m[bhttp::field::expect];
    if (!expect.empty()) {
      if (!http::iequals(expect, "100-continue")) return error(417), false;
      if (!parser_->is_done() && buf_.size() == 0 && version_ == 11) {
        static constexpr std::string_view cont = "HTTP/1.1 100 Continue\r\n\r\n";
        asio::async_write(sock_, asio::buffer(cont.data(), cont.size()),
                          [self = this->shared_from_this()](beast::error_code e, std::size_t) {
                            if (e) return self->close();
                            self->parse();
                          });
        return false;
      }
    }
    return true;
  }

  void fail(beast::error_code ec) {
    if (ec == bhttp::error::header_limit || ec == bhttp::error::buffer_overflow) return error(431);
    if (ec == bhttp::error::body_limit) return error(413);
    return error(400);
  }

  void error(unsigned status) {
    res_.error_page(status);
    send(false, false);
  }

  void handle() {
    auto& m = parser_->get();
    req_.method = m.method_string();
    req_.target = m.target();
    req_.version = version_;
    req_.headers.clear();
    for (auto& f : m) req_.headers.push_back({f.name_string(), f.value()});
    req_.body = m.body();
    req_.peer_ip = peer_ip_;
    req_.local_ip = local_ip_;
    req_.peer_port = peer_port_;
    req_.local_port = local_port_;
    if constexpr (P::tls::enabled) {
      if (auto* t = sock_.tls()) {
        req_.secure = true;
        req_.tls = &t->peer();
      }
    }
    res_.reset();
    st_->requests.fetch_add(1, std::memory_order_relaxed);
    bool keep = m.keep_alive() && !st_->stopping.load(std::memory_order_relaxed);
    std::string_view target = req_.target;
    for (int hops = 0;; ++hops) {
      switch (http::decode_target(target, req_.path, req_.query)) {
        case http::target_status::bad_request: return error(400);
        case http::target_status::not_found: res_.error_page(404); break;
        case http::target_status::ok:
          if (!st_->vfs.dispatch(req_, res_)) res_.error_page(404);
          break;
      }
      if (res_.internal_redirect.empty() || res_.later) break;
      if (hops == 10) {  // a redirect loop
        res_.error_page(500);
        break;
      }
      redirect_target_ = std::move(res_.internal_redirect);  // req_.query views into it
      target = redirect_target_;
      res_.reset();
    }
    if (res_.takeover) {  // ba.socket.req2sock: the page takes the connection
      auto f = std::move(res_.takeover);
      res_.takeover = nullptr;
      auto later = std::move(res_.later);
      res_.later = nullptr;
      hand_over(std::move(f));
      if (later) later(std::make_shared<channel_impl>(this->shared_from_this()));  // the page goes on
      return;
    }
    if (res_.later) {  // the answer comes later, through a channel
      keep_ = keep;
      committed_ = chunked_ = false;
      deadline.store(0, std::memory_order_relaxed);
      auto later = std::move(res_.later);
      res_.later = nullptr;
      peer_gone_ = false;
      watch_peer();
      later(std::make_shared<channel_impl>(this->shared_from_this()));
      return;
    }
    send(req_.is_head(), keep && !res_.close);
  }

  // The status line and headers of res_ into out_. `length`: a Content-Length to send, or
  // none (a chunked or close-delimited body, or a status without a body).
  void head(std::optional<std::uint64_t> length, bool keep) {
    static const std::string server_line = std::string("Server: ") + server_name + "\r\n";
    char num[24];
    out_.clear();
    out_.append("HTTP/1.1 ", 9);
    out_.append(num, std::size_t(std::to_chars(num, num + sizeof num, res_.status).ptr - num));
    out_.push_back(' ');
    out_.append(http::status_text(res_.status));
    out_.append("\r\n", 2);
    out_.append(date_line());
    out_.append(server_line);
    for (auto& [k, v] : res_.headers) {
      if (length && http::iequals(k, "Content-Length")) continue;  // ours is the true one
      out_.append(k);
      out_.append(": ", 2);
      out_.append(v);
      out_.append("\r\n", 2);
    }
    out_.append(res_.head_block);
    out_.append(res_.head_static);
    if (length) {
      out_.append("Content-Length: ", 16);
      out_.append(num, std::size_t(std::to_chars(num, num + sizeof num, *length).ptr - num));
      out_.append("\r\n", 2);
    }
    if (!keep) out_.append("Connection: close\r\n");
    else if (version_ == 10) out_.append("Connection: keep-alive\r\n");
    out_.append("\r\n", 2);
  }

  void send(bool head_only, bool keep) {
    keep_ = keep;
    unsigned s = res_.status;
    bool bodyless = s == 304 || s == 204 || s < 200;
    if (!res_.body_view.empty()) res_.body.clear();
    std::string_view body = res_.body_view.empty() ? std::string_view(res_.body) : res_.body_view;
    std::uint64_t length = body.size() + (res_.file ? res_.file_length : 0) + res_.tail.size();
    head(bodyless ? std::nullopt : std::optional<std::uint64_t>(length), keep);
    if (head_only || bodyless) {
      res_.body.clear();
      res_.file.reset();
      res_.tail.clear();
      body = {};
    }
    set_deadline(st_->config.iotimeout);
    std::array<asio::const_buffer, 2> bufs{asio::buffer(out_), asio::buffer(body.data(), body.size())};
    if constexpr (P::io::zero_copy_file) {
      if (res_.file && plain()) {  // header and file data in one segment where the kernel can
        std::size_t sent = P::io::send_more(raw(), bufs.data(), bufs.size());
        std::size_t total = out_.size() + res_.body.size();
        if (sent == total) return send_file();
        if (sent >= out_.size()) {
          res_.body.erase(0, sent - out_.size());
          out_.clear();
        } else {
          out_.erase(0, sent);
        }
        bufs = {asio::buffer(out_), asio::buffer(res_.body)};
      }
    }
    asio::async_write(sock_, bufs, [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->close();
      if (self->res_.file) return self->send_file();
      self->done();
    });
  }

  // ---- answers that went asynchronous (http::channel) ----------------------------------
  // Notices a peer that closes while its answer is being made (a page that runs long).
  void watch_peer() {
    if constexpr (requires { sock_.native_handle(); }) {
      sock_.async_wait(asio::socket_base::wait_read, [self = this->shared_from_this()](beast::error_code ec) {
        if (ec) {
          if (ec != asio::error::operation_aborted) self->peer_gone_ = true;
          return;
        }
        char b;
        ssize_t n = ::recv(self->sock_.native_handle(), &b, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) self->peer_gone_ = true;
      });
    }
  }

  class channel_impl final : public http::channel {
   public:
    explicit channel_impl(std::shared_ptr<connection> c) : c_(std::move(c)) {}
    void post(std::function<void()> f) override { asio::post(c_->sock_.get_executor(), std::move(f)); }
    void after(unsigned ms, std::function<void()> f) override {
      asio::post(c_->sock_.get_executor(), [c = c_, ms, f = std::move(f)]() mutable {
        auto t = std::make_shared<asio::steady_timer>(c->sock_.get_executor(), std::chrono::milliseconds(ms));
        t->async_wait([t, f = std::move(f)](beast::error_code) { f(); });
      });
    }
    void flush(std::function<void(bool)> done) override {
      asio::post(c_->sock_.get_executor(), [c = c_, done = std::move(done)]() mutable {
        if (c->detached_) {
          c->res_.body.clear();
          return done(true);
        }
        c->stream_flush(std::move(done));
      });
    }
    void finish() override {
      asio::post(c_->sock_.get_executor(), [c = c_] {
        if (!c->detached_) c->stream_finish();
      });
    }
    void abort() override {
      asio::post(c_->sock_.get_executor(), [c = c_] {
        if (!c->detached_) c->close();
      });
    }
    void takeover(std::function<void(std::unique_ptr<net::stream>)> f) override {
      asio::post(c_->sock_.get_executor(), [c = c_, f = std::move(f)]() mutable {
        if (!c->detached_ && c->sock_.is_open()) return c->hand_over(std::move(f));
        f(nullptr);  // the connection has gone meanwhile
      });
    }
    bool gone() const override { return !c_->detached_ && (c_->peer_gone_ || !c_->sock_.is_open()); }

   private:
    std::shared_ptr<connection> c_;
  };

  // The body so far, framed: a chunk when chunked (nothing for an empty body).
  void frame_body(std::string& into) {
    if (req_.is_head()) return res_.body.clear();
    if (res_.body.empty()) return;
    if (chunked_) {
      char num[20];
      auto r = std::to_chars(num, num + sizeof num, res_.body.size(), 16);
      into.append(num, r.ptr).append("\r\n").append(res_.body).append("\r\n");
    } else {
      into.append(res_.body);
    }
    res_.body.clear();
  }

  void commit() {
    committed_ = true;
    keep_ = keep_ && !res_.close && !st_->stopping.load(std::memory_order_relaxed);
    auto declared = res_.header("Content-Length");
    if (!declared.empty()) {  // the page said how long: sent as it is
      chunked_ = false;
      std::uint64_t n = 0;
      auto r = std::from_chars(declared.data(), declared.data() + declared.size(), n);
      if (r.ec != std::errc() || r.ptr != declared.data() + declared.size()) keep_ = false;
    } else {
      chunked_ = version_ == 11;
      if (!chunked_) keep_ = false;  // HTTP/1.0: the end of the body is the close
    }
    head(std::nullopt, keep_);
    if (chunked_) out_.insert(out_.size() - 2, "Transfer-Encoding: chunked\r\n");
  }

  void stream_flush(std::function<void(bool)> done) {
    if (!sock_.is_open()) {
      res_.body.clear();
      return done(false);
    }
    if (!committed_) commit();
    else out_.clear();
    frame_body(out_);
    if (out_.empty()) return done(true);
    set_deadline(st_->config.iotimeout);
    asio::async_write(sock_, asio::buffer(out_),
                      [self = this->shared_from_this(), done = std::move(done)](beast::error_code ec, std::size_t) {
                        self->deadline.store(0, std::memory_order_relaxed);
                        if (ec) self->close();
                        done(!ec);
                      });
  }

  void stream_finish() {
    if (!committed_) return send(req_.is_head(), keep_ && !res_.close && !st_->stopping.load(std::memory_order_relaxed));
    if (!sock_.is_open()) return;
    out_.clear();
    frame_body(out_);
    if (chunked_ && !req_.is_head()) out_.append("0\r\n\r\n");
    if (out_.empty()) return done();
    set_deadline(st_->config.iotimeout);
    asio::async_write(sock_, asio::buffer(out_), [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->close();
      self->done();
    });
  }

  void send_file() {
    if constexpr (P::io::zero_copy_file) {
      if (plain()) {
        P::io::async_sendfile(raw(), res_.file.get(), res_.file_offset, res_.file_length,
                              [self = this->shared_from_this()](beast::error_code ec, std::uint64_t) {
                                if (ec) return self->close();
                                self->res_.file.reset();
                                self->send_tail();
                              });
        return;
      }
    }
    copy_file();
  }

  // The path without sendfile: read a slice, write it, repeat.
  void copy_file() {
    if (res_.file_length == 0) {
      res_.file.reset();
      return send_tail();
    }
    std::size_t n = res_.file_length > 64 * 1024 ? 64 * 1024 : std::size_t(res_.file_length);
    chunk_.resize(n);
    ssize_t got = ::pread(res_.file.get(), chunk_.data(), n, off_t(res_.file_offset));
    if (got <= 0) return close();
    res_.file_offset += std::uint64_t(got);
    res_.file_length -= std::uint64_t(got);
    set_deadline(st_->config.iotimeout);
    asio::async_write(sock_, asio::buffer(chunk_.data(), std::size_t(got)),
                      [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                        if (ec) return self->close();
                        self->copy_file();
                      });
  }

  // What follows a file part (a gzip trailer).
  void send_tail() {
    if (res_.tail.empty()) return done();
    asio::async_write(sock_, asio::buffer(res_.tail), [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->close();
      self->done();
    });
  }

  void done() {
    if (!keep_) return linger();
    set_deadline(st_->config.keepalivetimeout);
    begin_request();
  }

  // Close after an answer: stop sending, then drain what the client still sends for a moment
  // so that a reset does not destroy the answer before the client reads it.
  void linger() {
    beast::error_code ec;
    sock_.shutdown(asio::socket_base::shutdown_send, ec);
    if (ec) return close();
    set_deadline(2);
    buf_.consume(buf_.size());
    drain();
  }
  void drain() {
    auto space = buf_.prepare(4096);
    sock_.async_read_some(space, [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->close();
      self->drain();
    });
  }

  void close() {
    beast::error_code ec;
    sock_.close(ec);
  }

  // Moves the stream (and what was read past the request) to a Lua socket: this connection
  // then only lingers until its page has ended, without a deadline or a place in the count.
  void hand_over(std::function<void(std::unique_ptr<net::stream>)> f) {
    beast::error_code ec;
    sock_.cancel(ec);  // watch_peer's wait
    detached_ = true;
    deadline.store(0, std::memory_order_relaxed);
    busy.store(false, std::memory_order_relaxed);
    std::unique_ptr<net::stream> s;
    try {
      s = std::make_unique<net::stream_impl<stream_type>>(std::move(sock_));
      auto data = buf_.data();
      s->prefix.assign(static_cast<const char*>(data.data()), data.size());
      buf_.consume(buf_.size());
    } catch (const std::bad_alloc&) {
      s.reset();
    }
    f(std::move(s));
  }

  stream_type sock_;
  std::shared_ptr<server_state> st_;
  std::shared_ptr<tls_context> tls_;  // until start(): the listener's TLS context
  beast::flat_buffer buf_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  http::request req_;
  http::response res_;
  std::string out_;
  std::vector<char> chunk_;
  unsigned version_ = 11;
  bool in_request_ = false, header_done_ = false, keep_ = true;
  bool committed_ = false, chunked_ = false;  // of an asynchronous answer
  bool peer_gone_ = false;                     // the peer closed while the answer was made
  bool detached_ = false;                      // the stream went to a Lua socket (hand_over)
  std::string peer_ip_, local_ip_;
  std::string redirect_target_;  // of an internal redirect
  std::uint16_t peer_port_ = 0, local_port_ = 0;
};

// Lua sockets' connections and listeners, on the server's loops (net/stream.hpp).
template<class P>
class net_factory final : public net::factory {
  using conn = connection<P>;
  using socket_type = typename conn::socket_type;
  using stream_type = typename conn::stream_type;
  using executor_type = typename conn::executor_type;
  using tcp = asio::ip::tcp;

 public:
  net_factory(std::vector<asio::io_context*>& workers, std::atomic<bool>& running, std::shared_ptr<server_state> st)
      : workers_(workers), running_(running), st_(std::move(st)) {}

  bool serve(std::unique_ptr<net::stream> s) override {
    auto* impl = dynamic_cast<net::stream_impl<stream_type>*>(s.get());
    if (!impl || st_->stopping) return false;
    std::string read = std::move(s->prefix);
    auto c = std::make_shared<conn>(impl->release(), st_, read);
    if (!st_->conns.add(c, st_->config.conncnt)) return false;
    asio::post(c->get_executor(), [c] { c->start(); });
    return true;
  }

  net::executor pick_executor() override { return pick(); }

  void connect(const std::string& host, std::uint16_t port, const std::string& intf, unsigned timeout_ms,
               std::function<void(std::string, std::unique_ptr<net::stream>)> done) override {
    auto a = std::make_shared<attempt>(pick(), intf, std::move(done));
    if (timeout_ms) {  // resolving and every address tried, all within it
      a->timer.expires_after(std::chrono::milliseconds(timeout_ms));
      a->timer.async_wait([a](beast::error_code ec) {
        if (ec) return;
        a->timed_out = true;
        a->resolver.cancel();
        beast::error_code ignored;
        a->sock.close(ignored);
      });
    }
    a->resolver.async_resolve(host, std::to_string(port), tcp::resolver::numeric_service,
                              [a](beast::error_code ec, tcp::resolver::results_type r) {
                                if (ec || r.empty()) return a->finish(a->timed_out ? "timeout" : "cannotresolve");
                                for (auto& e : r) a->eps.push_back(e.endpoint());
                                try_next(a, 0, "cannotconnect");
                              });
  }

  std::unique_ptr<net::acceptor> bind(const std::string& intf, std::uint16_t port, bool v6,
                                      std::shared_ptr<tls::context> tls, std::string& err) override {
    std::shared_ptr<typename P::tls::context> ctx;
    if constexpr (P::tls::enabled) ctx = std::move(tls);
    else if (tls) return err = "sslnotenabled", nullptr;
    beast::error_code ec;
    tcp::endpoint ep;
    if (intf.empty()) {
      ep = tcp::endpoint(v6 ? tcp::v6() : tcp::v4(), port);
    } else {
      auto a = asio::ip::make_address(intf, ec);
      if (ec) return err = "invalidparam", nullptr;
      ep = tcp::endpoint(a, port);
    }
    auto acc = std::make_unique<acceptor>(*this, typename acceptor::acceptor_type(pick()), std::move(ctx));
    auto& a = acc->a;
    a.open(ep.protocol(), ec);
    if (!ec) a.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec && ep.address().is_v6()) a.set_option(asio::ip::v6_only(true), ec);
    if (!ec) a.bind(ep, ec);
    if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return err = "bind", nullptr;
    return acc;
  }

  std::unique_ptr<net::datagram> udp(const std::string& intf, std::uint16_t port, const std::string& peer,
                                     std::uint16_t peer_port, bool v6, std::string& err) override {
    using udp_t = asio::ip::udp;
    beast::error_code ec;
    udp_t::endpoint remote;
    if (!peer.empty()) {
      udp_t::resolver r(pick());
      auto res = r.resolve(peer, std::to_string(peer_port), udp_t::resolver::numeric_service, ec);
      if (ec || res.empty()) return err = "cannotresolve", nullptr;
      remote = res.begin()->endpoint();
      v6 = remote.address().is_v6();
    }
    udp_t::endpoint local(v6 ? udp_t::v6() : udp_t::v4(), port);
    if (!intf.empty()) {
      auto a = asio::ip::make_address(intf, ec);
      if (ec) return err = "invalidparam", nullptr;
      local = udp_t::endpoint(a, port);
    }
    auto d = std::make_unique<datagram>(pick());
    d->s.open(local.protocol(), ec);
    if (!ec) d->s.bind(local, ec);
    if (ec) return err = "bind", nullptr;
    if (!peer.empty()) {
      d->s.connect(remote, ec);
      if (ec) return err = "cannotconnect", nullptr;
    }
    return d;
  }

  bool on_loop_thread() const override { return detail::on_loop_thread(); }
  bool running() const override { return running_.load(); }
  void run_until(const std::function<bool()>& done) override {
    auto& io = *workers_.front();
    io.restart();
    while (!done()) {
      if (io.run_one() == 0) io.restart();
    }
  }

 private:
  class acceptor final : public net::acceptor {
   public:
    using acceptor_type = typename P::io::template acceptor<asio::io_context::executor_type>;
    acceptor(net_factory& f, acceptor_type a, std::shared_ptr<typename P::tls::context> tls)
        : f_(f), a(std::move(a)), tls_(std::move(tls)) {}
    ~acceptor() override { close(); }
    net::executor get_executor() override { return a.get_executor(); }
    void async_accept(std::function<void(net::error_code, std::unique_ptr<net::stream>)> h) override {
      a.async_accept(f_.pick(), [this, h = std::move(h)](beast::error_code ec, socket_type s) mutable {
        if (ec) return h(ec, nullptr);
        beast::error_code ignored;
        s.set_option(tcp::no_delay(true), ignored);
        stream_type st(std::move(s));
        if constexpr (P::tls::enabled) {
          if (tls_) {
            auto session = tls_->accept();
            if (!session) return h(asio::error::no_permission, nullptr);
            st.secure(std::move(session));
          }
        }
        h(ec, std::make_unique<net::stream_impl<stream_type>>(std::move(st)));
      });
    }
    void close() override {
      beast::error_code ec;
      a.close(ec);
    }
    bool is_open() const override { return a.is_open(); }
    bool endpoint(net::endpoint_info& out) const override {
      beast::error_code ec;
      auto ep = a.local_endpoint(ec);
      if (!ec) out = net::info_of(ep.address(), ep.port());
      return !ec;
    }

   private:
    net_factory& f_;

   public:
    acceptor_type a;

   private:
    std::shared_ptr<typename P::tls::context> tls_;
  };

  class datagram final : public net::datagram {
   public:
    explicit datagram(executor_type ex) : s(ex) {}
    ~datagram() override { close(); }
    net::executor get_executor() override { return s.get_executor(); }
    void async_receive(asio::mutable_buffer b, std::function<void(net::error_code, std::size_t, net::endpoint_info)> h) override {
      s.async_receive_from(b, from_, [this, h = std::move(h)](beast::error_code ec, std::size_t n) {
        h(ec, n, net::info_of(from_.address(), from_.port()));
      });
    }
    void async_send(asio::const_buffer b, const std::string& ip, std::uint16_t port, std::function<void(net::error_code)> h) override {
      auto cb = [h = std::move(h)](beast::error_code ec, std::size_t) { h(ec); };
      if (ip.empty()) return s.async_send(b, std::move(cb));
      beast::error_code ec;
      auto a = asio::ip::make_address(ip, ec);
      if (ec) return asio::post(s.get_executor(), [cb, ec]() mutable { cb(ec, 0); });
      if (a.is_v4() && s.local_endpoint(ec).address().is_v6()) a = asio::ip::make_address_v6(asio::ip::v4_mapped, a.to_v4());
      s.async_send_to(b, asio::ip::udp::endpoint(a, port), std::move(cb));
    }
    void close() override {
      beast::error_code ec;
      s.close(ec);
    }
    bool endpoint(bool peer, net::endpoint_info& out) const override { return net::endpoint_of(s, peer, out); }
    void set_broadcast(bool on) override {
      beast::error_code ec;
      s.set_option(asio::socket_base::broadcast(on), ec);
    }
    asio::basic_datagram_socket<asio::ip::udp, executor_type> s;

   private:
    asio::ip::udp::endpoint from_;
  };

  executor_type pick() {
    std::size_t i = running_.load() ? next_.fetch_add(1, std::memory_order_relaxed) % workers_.size() : 0;
    return P::thread::make_executor(workers_[i]->get_executor());
  }

  // One connect(): its handlers all run on the socket's executor.
  struct attempt {
    attempt(executor_type ex, std::string i, std::function<void(std::string, std::unique_ptr<net::stream>)> d)
        : resolver(ex), sock(ex), timer(ex), intf(std::move(i)), done(std::move(d)) {}
    tcp::resolver resolver;
    socket_type sock;
    asio::steady_timer timer;
    std::string intf;
    std::vector<tcp::endpoint> eps;
    bool timed_out = false;
    std::function<void(std::string, std::unique_ptr<net::stream>)> done;

    void finish(std::string err, std::unique_ptr<net::stream> s = nullptr) {
      timer.cancel();
      done(std::move(err), std::move(s));
    }
  };

  static void try_next(std::shared_ptr<attempt> a, std::size_t i, std::string last_error) {
    if (a->timed_out) return a->finish("timeout");
    if (i >= a->eps.size()) return a->finish(last_error);
    auto ep = a->eps[i];
    auto& sock = a->sock;
    beast::error_code ec;
    sock.close(ec);
    sock.open(ep.protocol(), ec);
    if (!ec && !a->intf.empty()) {
      auto local = asio::ip::make_address(a->intf, ec);
      if (!ec && local.is_v6() != ep.address().is_v6()) return try_next(a, i + 1, last_error);
      if (!ec) sock.bind(tcp::endpoint(local, 0), ec);
      if (ec) return try_next(a, i + 1, "bind");
    }
    if (ec) return try_next(a, i + 1, "cannotconnect");
    sock.async_connect(ep, [a, i](beast::error_code e) {
      if (e || a->timed_out) return try_next(a, i + 1, "cannotconnect");
      beast::error_code ignored;
      a->sock.set_option(tcp::no_delay(true), ignored);
      a->finish("", std::make_unique<net::stream_impl<stream_type>>(stream_type(std::move(a->sock))));
    });
  }

  std::vector<asio::io_context*>& workers_;
  std::atomic<bool>& running_;
  std::shared_ptr<server_state> st_;
  std::atomic<std::size_t> next_{0};
};

}  // namespace detail

template<policy_bundle P>
basic_server<P>::basic_server(server_config cfg)
    : ioc_(1),
      state_(std::make_shared<detail::server_state>()),
      sweep_timer_(ioc_),
      drain_timer_(ioc_) {
  state_->config = cfg;
  workers_.push_back(&ioc_);
  for (unsigned i = 1; i < P::thread::threads(cfg.threads); ++i) {
    extra_.push_back(std::make_unique<boost::asio::io_context>(1));
    workers_.push_back(extra_.back().get());
  }
  lua_ = detail::new_lua_state(P::alloc::resource());
  host_.L = lua_;
  host_.tree = &state_->vfs;
  host_.rspsz = cfg.rspsz;
  host_.sessioncnt = cfg.sessioncnt;
  if (lua_) lua::set_host(lua_, &host_);
  host_.listen = [this](const std::string& host, unsigned port, int family, std::shared_ptr<tls::context> tls,
                        std::vector<lua::bound_address>& bound, std::string& err) -> int {
    std::shared_ptr<tls_context> ctx;
    if constexpr (P::tls::enabled) {
      ctx = std::move(tls);
    } else if (tls) {
      err = "this edition has no TLS";
      return 0;
    }
    if (port > 65535) {
      err = "invalid port " + std::to_string(port);
      return 0;
    }
    auto r = listen(host, std::uint16_t(port), std::move(ctx), family);
    if (r.endpoints.empty()) {
      err = r.error;
      return 0;
    }
    for (auto& ep : r.endpoints) bound.push_back({ep.address().to_string(), ep.port(), ep.address().is_v6()});
    return r.id;
  };
  host_.close_listener = [this](int id) { close_listener(id); };
  net_ = std::make_shared<detail::net_factory<P>>(workers_, running_, state_);
  host_.net = net_;
  host_.after = [this](unsigned ms, std::function<void()> fn) -> std::shared_ptr<lua::timer_handle> {
    struct handle final : lua::timer_handle {
      explicit handle(boost::asio::io_context& io) : t(io) {}
      void cancel() override {
        cancelled = true;
        boost::asio::post(t.get_executor(), [self = self_ref.lock()] {
          if (self) self->t.cancel();
        });
      }
      boost::asio::steady_timer t;
      std::atomic<bool> cancelled{false};
      std::weak_ptr<handle> self_ref;
    };
    auto h = std::make_shared<handle>(ioc_);
    h->self_ref = h;
    h->t.expires_after(std::chrono::milliseconds(ms));
    h->t.async_wait([h, fn = std::move(fn)](boost::system::error_code ec) {
      if (!ec && !h->cancelled) fn();
    });
    return h;
  };
  host_.timertick = cfg.timertick;
  host_.parallel = P::thread::multi;
  // sendfile(2) to a peer that has gone raises SIGPIPE (it has no MSG_NOSIGNAL), which would
  // kill the process; turn it into EPIPE unless the embedding program chose a handler itself.
  struct sigaction old {};
  if (::sigaction(SIGPIPE, nullptr, &old) == 0 && old.sa_handler == SIG_DFL) ::signal(SIGPIPE, SIG_IGN);
}

template<policy_bundle P>
basic_server<P>::~basic_server() {
  detail::close_lua_state(lua_);
}

template<policy_bundle P>
listen_result basic_server<P>::listen(const std::string& host, std::uint16_t port, std::shared_ptr<tls_context> tls,
                                      int family) {
  namespace asio = boost::asio;
  using tcp = asio::ip::tcp;
  listen_result r;
  std::vector<tcp::endpoint> wanted;
  if (host.empty()) {
    if (family != 4) wanted.push_back(tcp::endpoint(tcp::v6(), port));
    if (family != 6) wanted.push_back(tcp::endpoint(tcp::v4(), port));
  } else {
    boost::system::error_code ec;
    tcp::resolver resolver(ioc_);
    auto results = resolver.resolve(host, std::to_string(port),
                                    tcp::resolver::passive | tcp::resolver::numeric_service, ec);
    if (ec) {
      r.error = host + ": " + ec.message();
      return r;
    }
    for (auto& e : results) wanted.push_back(e.endpoint());
  }
  std::lock_guard lock(listeners_mutex_);
  r.id = ++next_listener_id_;
  std::vector<std::unique_ptr<listener>> opened;
  for (auto ep : wanted) {
    if (!r.endpoints.empty() && ep.port() == 0) ep.port(r.endpoints.front().port());
    auto l = std::make_unique<listener>(listener{acceptor_t(ioc_), tls, r.id});
    auto& a = l->a;
    boost::system::error_code ec;
    a.open(ep.protocol(), ec);
    if (!ec) a.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec && ep.address().is_v6()) a.set_option(asio::ip::v6_only(true), ec);
    if (!ec) a.bind(ep, ec);
    if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      if (r.error.empty()) r.error = ec.message();
      continue;
    }
    r.endpoints.push_back(a.local_endpoint());
    opened.push_back(std::move(l));
  }
  if (r.endpoints.empty()) return r;
  r.error.clear();
  for (auto& l : opened) {
    // the accept loop starts on the listeners' own thread
    boost::asio::post(ioc_, [this, p = l.get()] { accept(*p); });
    listeners_.push_back(std::move(l));
  }
  return r;
}

template<policy_bundle P>
void basic_server<P>::close_listener(int id) {
  boost::asio::post(ioc_, [this, id] {
    std::lock_guard lock(listeners_mutex_);
    boost::system::error_code ec;
    for (auto& l : listeners_)
      if (l->id == id) l->a.close(ec);
  });
}

template<policy_bundle P>
listen_result basic_server<P>::listen_fallback(const std::string& host, std::uint16_t preferred,
                                               std::uint16_t first, std::uint16_t last,
                                               std::shared_ptr<tls_context> tls) {
  auto r = listen(host, preferred, tls);
  if (!r.endpoints.empty()) return r;
  std::string first_error = r.error;
  for (unsigned p = first; p <= last; ++p) {
    if (p == preferred) continue;
    r = listen(host, std::uint16_t(p), tls);
    if (!r.endpoints.empty()) return r;
  }
  r.error = "Cannot open server listen port using any of " + std::to_string(preferred) + ", " +
            std::to_string(first) + "-" + std::to_string(last) + " (" + first_error + ")";
  return r;
}

template<policy_bundle P>
void basic_server<P>::accept(listener& l) {
  using conn = detail::connection<P>;
  auto& worker = *workers_[next_worker_++ % workers_.size()];
  auto& a = l.a;
  a.async_accept(P::thread::make_executor(worker.get_executor()),
                 [this, &a, &l](boost::system::error_code ec, typename conn::socket_type s) {
                   if (!a.is_open() || state_->stopping) return;
                   if (!ec) {
                     boost::system::error_code ignored;
                     s.set_option(boost::asio::ip::tcp::no_delay(true), ignored);
                     std::pmr::polymorphic_allocator<conn> alloc(&P::alloc::resource());
                     std::shared_ptr<conn> c;
                     try {
                       c = std::allocate_shared<conn>(alloc, std::move(s), state_, l.tls);
                     } catch (const std::bad_alloc&) {
                       // out of memory: the socket closes with the failed construction
                     }
                     if (c) {
                       auto limit = state_->config.conncnt;
                       bool admitted = state_->conns.add(c, limit);
                       // start on the connection's own loop
                       if (admitted) {
                         boost::asio::post(c->get_executor(), [c] { c->start(); });
                       } else if (state_->conns.size() <= 2u * limit) {
                         boost::asio::post(c->get_executor(), [c] { c->reject(); });
                       }  // else: far over the limit, dropped at once
                     }
                   }
                   accept(l);
                 });
}

template<policy_bundle P>
void basic_server<P>::schedule_sweep() {
  sweep_timer_.expires_after(std::chrono::milliseconds(250));
  sweep_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;  // deadlines hold while a stop drains too; stop_now cancels this
    state_->conns.sweep(detail::now_ms());
    schedule_sweep();
  });
}

template<policy_bundle P>
void basic_server<P>::handle_signals(log_fn on_signal) {
  signals_ = std::make_unique<boost::asio::signal_set>(ioc_, SIGINT, SIGTERM);
  signals_->async_wait([this, on_signal](boost::system::error_code ec, int sig) {
    if (ec) return;
    if (on_signal) on_signal(sig == SIGINT ? "SIGINT" : "SIGTERM");
    stop();
    // A second signal while requests finish: stop at once.
    signals_->async_wait([this, on_signal](boost::system::error_code ec2, int sig2) {
      if (ec2) return;
      if (on_signal) on_signal(std::string(sig2 == SIGINT ? "SIGINT" : "SIGTERM") + " again");
      stop_now();
    });
  });
}

template<policy_bundle P>
void basic_server<P>::run() {
  schedule_sweep();
  std::vector<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guards;
  for (auto& x : extra_) guards.push_back(boost::asio::make_work_guard(*x));
  std::vector<std::thread> threads;
  running_ = true;
  for (auto& x : extra_)
    threads.emplace_back([ctx = x.get()] {
      detail::on_loop_thread() = true;
      ctx->run();
    });
  detail::on_loop_thread() = true;
  ioc_.restart();
  ioc_.run();
  detail::on_loop_thread() = false;
  running_ = false;
  for (auto& x : extra_) x->stop();
  for (auto& t : threads) t.join();
}

template<policy_bundle P>
void basic_server<P>::stop() {
  boost::asio::post(ioc_, [this] {
    if (state_->stopping) return stop_now();
    state_->stopping = true;  // answers from now on close their connection
    boost::system::error_code ec;
    {
      std::lock_guard lock(listeners_mutex_);
      for (auto& l : listeners_) l->a.close(ec);
    }
    drain(detail::now_ms() + 5000);
  });
}

// Closes the connections between requests until none is left or `until` has passed.
template<policy_bundle P>
void basic_server<P>::drain(std::int64_t until) {
  state_->conns.expire_idle();
  if (state_->conns.size() == 0 || detail::now_ms() >= until) return stop_now();
  drain_timer_.expires_after(std::chrono::milliseconds(20));
  drain_timer_.async_wait([this, until](boost::system::error_code ec) {
    if (!ec) drain(until);
  });
}

template<policy_bundle P>
void basic_server<P>::stop_now() {
  boost::asio::post(ioc_, [this] {
    state_->stopping = true;
    boost::system::error_code ec;
    {
      std::lock_guard lock(listeners_mutex_);
      for (auto& l : listeners_) l->a.close(ec);
    }
    sweep_timer_.cancel();
    drain_timer_.cancel();
    if (signals_) signals_->cancel();
    state_->conns.expire_all();
    for (auto* w : workers_) w->stop();
  });
}

}  // namespace remora
