// tls::stream<Socket>: a socket that is either plain or carries a tls::session, behind one
// Asio stream interface (async_read_some, async_write_some and the socket calls the server
// makes). A listener decides which when it accepts; plain connections pay one branch per call.
//
// Writes are queued: records produced while a write is under way (a handshake reply during a
// read, an alert) go out after it, in order, so reads and writes may overlap (WebSockets).
#pragma once
#include <remora/config.hpp>
#include <remora/tls/session.hpp>

#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/socket_base.hpp>
#include <boost/asio/write.hpp>
#include <boost/system/errc.hpp>

#include <array>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <sys/socket.h>

namespace remora::tls {

template<class Socket>
class stream {
 public:
  using executor_type = typename Socket::executor_type;
  using error_code = boost::system::error_code;
  using wait_type = typename Socket::wait_type;
  static constexpr auto wait_read = Socket::wait_read;
  static constexpr auto wait_write = Socket::wait_write;

  explicit stream(Socket s) : s_(std::move(s)) {}

  // Makes the connection a TLS one (before any read).
  void secure(std::unique_ptr<session> t) { t_ = std::move(t); }
  bool is_secure() const noexcept { return t_ != nullptr; }
  session* tls() noexcept { return t_.get(); }
  Socket& next_layer() noexcept { return s_; }

  executor_type get_executor() { return s_.get_executor(); }
  bool is_open() const { return s_.is_open(); }
  auto native_handle() { return s_.native_handle(); }
  auto remote_endpoint(error_code& ec) const { return s_.remote_endpoint(ec); }
  auto local_endpoint(error_code& ec) const { return s_.local_endpoint(ec); }
  template<class Option>
  void set_option(const Option& o, error_code& ec) { s_.set_option(o, ec); }
  template<class H>
  void async_wait(wait_type w, H&& h) { s_.async_wait(w, std::forward<H>(h)); }
  void close(error_code& ec) { s_.close(ec); }
  void cancel(error_code& ec) { s_.cancel(ec); }

  // A client's handshake (after secure() with a client session): sends the ClientHello and
  // reads until the session is established; `done` fails when the session does.
  template<class Handler>
  void async_handshake(Handler&& h) {
    auto hp = std::make_shared<std::decay_t<Handler>>(std::forward<Handler>(h));
    flush([this, hp](error_code ec) {
      if (ec) return (*hp)(ec);
      handshake_step([hp](error_code e) { (*hp)(e); });
    });
  }

  // For TLS a close_notify goes first, if the socket takes it now (never blocks).
  void shutdown(boost::asio::socket_base::shutdown_type what, error_code& ec) {
    if (t_ && !writing_) {
      t_->close();
      auto& out = t_->output();
      if (!out.empty()) ::send(s_.native_handle(), out.data(), out.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      out.clear();
    }
    s_.shutdown(what, ec);
  }

  template<class Buffers, class Handler>
  void async_read_some(const Buffers& b, Handler&& h) {
    if (!t_) {
      s_.async_read_some(b, std::forward<Handler>(h));
      return;
    }
    auto hp = std::make_shared<std::decay_t<Handler>>(std::forward<Handler>(h));
    boost::asio::mutable_buffer dst = *boost::asio::buffer_sequence_begin(b);
    read_step(dst, [hp](error_code ec, std::size_t n) { (*hp)(ec, n); }, false);
  }

  template<class Buffers, class Handler>
  void async_write_some(const Buffers& b, Handler&& h) {
    if (!t_) {
      s_.async_write_some(b, std::forward<Handler>(h));
      return;
    }
    std::size_t total = boost::asio::buffer_size(b);
    bool ok = true;
    if (total <= 16384) {  // small pieces (a header and a body) into one record
      std::string joined;
      joined.reserve(total);
      for (auto it = boost::asio::buffer_sequence_begin(b); it != boost::asio::buffer_sequence_end(b); ++it) {
        boost::asio::const_buffer c(*it);
        joined.append(static_cast<const char*>(c.data()), c.size());
      }
      ok = t_->send(reinterpret_cast<const std::uint8_t*>(joined.data()), joined.size());
    } else {
      for (auto it = boost::asio::buffer_sequence_begin(b); ok && it != boost::asio::buffer_sequence_end(b); ++it) {
        boost::asio::const_buffer c(*it);
        ok = t_->send(static_cast<const std::uint8_t*>(c.data()), c.size());
      }
    }
    auto hp = std::make_shared<std::decay_t<Handler>>(std::forward<Handler>(h));
    if (!ok) {
      boost::asio::post(s_.get_executor(), [hp] { (*hp)(failure(), std::size_t(0)); });
      return;
    }
    flush([hp, total](error_code ec) { (*hp)(ec, ec ? std::size_t(0) : total); });
  }

 private:
  static error_code failure() { return boost::system::errc::make_error_code(boost::system::errc::protocol_error); }

  // Serves `dst` from decrypted data, reading and feeding records until some arrive.
  void read_step(boost::asio::mutable_buffer dst, std::function<void(error_code, std::size_t)> done, bool inline_ok) {
    auto& in = t_->input();
    if (!in.empty() || t_->peer_closed()) {
      std::size_t n = boost::asio::buffer_copy(dst, boost::asio::buffer(in));
      in.erase(0, n);
      error_code ec = n ? error_code() : (t_->error().empty() ? error_code(boost::asio::error::eof) : failure());
      if (inline_ok) return done(ec, n);
      boost::asio::post(s_.get_executor(), [done = std::move(done), ec, n] { done(ec, n); });
      return;
    }
    // Wait for data first: an idle connection holds no record buffer.
    s_.async_wait(Socket::wait_read, [this, dst, done = std::move(done)](error_code wec) mutable {
      if (wec) return done(wec, 0);
      read_records(dst, std::move(done));
    });
  }

  void read_records(boost::asio::mutable_buffer dst, std::function<void(error_code, std::size_t)> done) {
    if (rbuf_.empty()) rbuf_.resize(17 * 1024);
    s_.async_read_some(boost::asio::buffer(rbuf_), [this, dst, done = std::move(done)](error_code ec, std::size_t n) mutable {
      if (ec) return done(ec, 0);
      t_->received(reinterpret_cast<const std::uint8_t*>(rbuf_.data()), n);
      std::vector<char>().swap(rbuf_);  // given back until the next read
      auto next = [this, dst, done = std::move(done)](error_code wec) mutable {
        if (wec && t_->input().empty()) return done(wec, 0);
        read_step(dst, std::move(done), true);
      };
      if (t_->output().empty()) return next(error_code());
      flush(std::move(next));
    });
  }

  void handshake_step(std::function<void(error_code)> done) {
    if (t_->established()) return boost::asio::post(s_.get_executor(), [done = std::move(done)] { done(error_code()); });
    if (t_->peer_closed() || !t_->error().empty())
      return boost::asio::post(s_.get_executor(), [done = std::move(done)] { done(failure()); });
    if (rbuf_.empty()) rbuf_.resize(17 * 1024);
    s_.async_read_some(boost::asio::buffer(rbuf_), [this, done = std::move(done)](error_code ec, std::size_t n) mutable {
      if (ec) return done(ec);
      t_->received(reinterpret_cast<const std::uint8_t*>(rbuf_.data()), n);
      auto next = [this, done = std::move(done)](error_code wec) mutable {
        if (wec) return done(wec);
        handshake_step(std::move(done));
      };
      if (t_->output().empty()) return next(error_code());
      flush(std::move(next));
    });
  }

  // Writes what the session has produced; `done` runs once those bytes are out.
  void flush(std::function<void(error_code)> done) {
    waiting_.push_back(std::move(done));
    if (!writing_) write_batch();
  }
  void write_batch() {
    writing_ = true;
    wbuf_.clear();
    wbuf_.swap(t_->output());
    auto batch = std::make_shared<std::vector<std::function<void(error_code)>>>(std::move(waiting_));
    waiting_.clear();
    boost::asio::async_write(s_, boost::asio::buffer(wbuf_), [this, batch](error_code ec, std::size_t) {
      writing_ = false;
      wbuf_.clear();
      if (!waiting_.empty()) write_batch();  // its waiters keep the stream's owner alive
      // Last: a waiter may release the stream's owner, after which `this` is not touched.
      for (auto& f : *batch) f(ec);
    });
  }

  Socket s_;
  std::unique_ptr<session> t_;
  std::vector<char> rbuf_;
  std::string wbuf_;
  bool writing_ = false;
  std::vector<std::function<void(error_code)>> waiting_;
};

}  // namespace remora::tls
