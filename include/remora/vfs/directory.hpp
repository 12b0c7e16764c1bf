// The virtual directory tree: directories mounted at URL prefixes, ordered by priority.
//
// A request goes to the directories whose prefix begins its path, longest prefix first and,
// at one prefix, highest priority first (ties keep insertion order). Each may answer or fall
// through; when none answers the server sends its default 404. This is the model Mako apps
// rely on: two apps with one name share a base URL, and the higher priority is searched first.
#pragma once
#include <remora/config.hpp>
#include <remora/http/message.hpp>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace remora::vfs {

class directory {
 public:
  virtual ~directory() = default;
  // `rel` is the request path below the mount prefix, without a leading '/' ("" for the
  // directory itself). Return true when `res` holds the answer; false to fall through.
  virtual bool service(const http::request& req, std::string_view rel, http::response& res) = 0;

  // dir:redirect2tls(): requests that did not come over TLS get a 301 to the https URL.
  std::atomic<bool> tls_only{false};

 protected:
  // For service(): true when the answer is that redirect (tls_only and a plain request).
  bool redirected_to_tls(const http::request& req, http::response& res) const;
};

class tree {
 public:
  // Mount `dir` at `prefix` ("/" or "/name/" or "/a/b/"); a missing trailing slash is added.
  void insert(std::shared_ptr<directory> dir, std::string prefix, int priority);
  // Unmount every mount of `dir`; false when it was not mounted.
  bool remove(const directory* dir);
  // Offers the request to the matching directories in order; false when none answered.
  // A path equal to a mount prefix without its slash ("/name") gets a 302 to "/name/".
  bool dispatch(const http::request& req, http::response& res) const;
  std::size_t size() const;

 private:
  struct mount {
    std::string prefix;
    int priority;
    unsigned long seq;
    std::shared_ptr<directory> dir;
  };
  // Mounts change rarely: a change makes a new sorted list (longer prefix, higher priority,
  // older first); a request walks the list it found, without holding the lock, so a directory
  // may change the tree while it serves (an LSP page that inserts a dir or loads an app).
  mutable std::mutex mutex_;
  std::shared_ptr<const std::vector<mount>> mounts_ = std::make_shared<const std::vector<mount>>();
  unsigned long seq_ = 0;
};

// Opens `rel` below the directory `dirfd`, refusing any path that resolves outside it, with
// openat2(RESOLVE_BENEATH). Where the kernel has no openat2 (before Linux 5.6, or a sandbox
// that hides it) the file is opened with openat and kept only when its real path, read back
// from /proc/self/fd, lies beneath the directory's.
unique_fd open_beneath(int dirfd, std::string_view rel, int flags);

}  // namespace remora::vfs

#if REMORA_HEADER_ONLY
#  include <remora/vfs/impl/directory.ipp>
#endif
