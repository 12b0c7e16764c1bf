#pragma once
#include <remora/vfs/zip_io.hpp>

#include <cstring>

#include <unistd.h>

namespace remora::vfs {

namespace detail {
class zip_file final : public file {
 public:
  zip_file(const zip::archive& a, const zip::entry& e, std::unique_ptr<zip::archive::reader> r)
      : archive_(a), entry_(e), reader_(std::move(r)) {}
  std::ptrdiff_t read(void* out, std::size_t n, std::string& err) override {
    if (n == 0) return 0;
    while (skip_) {  // a seek forward or back: restart and discard
      char buf[4096];
      auto got = reader_->read(buf, skip_ < sizeof buf ? std::size_t(skip_) : sizeof buf, err);
      if (got <= 0) return got < 0 ? -1 : 0;
      skip_ -= std::uint64_t(got);
    }
    auto got = reader_->read(out, n, err);
    if (got > 0) pos_ += std::uint64_t(got);
    return got;
  }
  bool write(const void*, std::size_t, std::string& err) override { return err = "noaccess", false; }
  bool seek(std::uint64_t offset, std::string& err) override {
    if (offset > entry_.size) return err = "invalidname", false;
    if (offset < pos_) {
      reader_ = archive_.open_reader(entry_, err);
      if (!reader_) return false;
      pos_ = 0;
    }
    skip_ = offset - pos_;
    pos_ = offset;
    return true;
  }
  bool flush(std::string&) override { return true; }
  std::uint64_t size() const override { return entry_.size; }

 private:
  const zip::archive& archive_;
  const zip::entry& entry_;
  std::unique_ptr<zip::archive::reader> reader_;
  std::uint64_t pos_ = 0, skip_ = 0;
};

inline file_info zip_info(const zip::entry& e) {
  file_info i;
  i.is_dir = e.is_dir();
  i.size = i.is_dir ? 0 : e.size;
  i.mtime = e.mtime;
  return i;
}
}  // namespace detail

REMORA_DECL zip_io::zip_io(std::unique_ptr<zip::archive> a)
    : archive_(std::move(a)), verified_(new std::atomic<std::uint8_t>[archive_->entry_count()]) {
  for (std::size_t i = 0; i < archive_->entry_count(); ++i) verified_[i] = 0;
}

REMORA_DECL std::shared_ptr<zip_io> zip_io::open_file(const std::string& path, std::string& err) {
  auto src = zip::file_source(path, err);
  if (!src) return nullptr;
  auto a = zip::archive::open(std::move(src), err);
  if (!a) {
    err = path + ": " + err;
    return nullptr;
  }
  return std::make_shared<zip_io>(std::move(a));
}

REMORA_DECL const zip::entry* zip_io::entry_for(std::string_view name, std::string& rel) const {
  if (!normalize(name, rel)) return nullptr;
  return archive_->find(rel);
}

REMORA_DECL bool zip_io::stat(std::string_view name, file_info& info, std::string& err) const {
  std::string rel;
  if (!normalize(name, rel)) return err = "invalidname", false;
  if (const zip::entry* e = archive_->find(rel)) {
    info = detail::zip_info(*e);
    return true;
  }
  if (archive_->is_dir(rel)) {
    info = file_info{};
    info.is_dir = true;
    if (const zip::entry* d = archive_->find(rel + "/")) info.mtime = d->mtime;
    return true;
  }
  return err = "notfound", false;
}

REMORA_DECL std::unique_ptr<file> zip_io::open(std::string_view name, std::string_view mode, std::string& err) {
  if (!mode.empty() && mode != "r" && mode != "rb") return err = "noaccess", nullptr;
  std::string rel;
  const zip::entry* e = entry_for(name, rel);
  if (!e) return err = archive_->is_dir(rel) ? "isdir" : "notfound", nullptr;
  auto r = archive_->open_reader(*e, err);
  if (!r) return nullptr;
  return std::make_unique<detail::zip_file>(*archive_, *e, std::move(r));
}

REMORA_DECL bool zip_io::files(std::string_view name,
                               const std::function<void(std::string_view, const file_info&)>& f,
                               std::string& err) const {
  std::string rel;
  if (!normalize(name, rel)) return err = "invalidname", false;
  if (!archive_->is_dir(rel)) return err = "notfound", false;
  archive_->list(rel, [&](std::string_view child, bool is_dir, const zip::entry* e) {
    file_info i;
    if (e) i = detail::zip_info(*e);
    i.is_dir = is_dir;
    if (!child.empty() && child.back() == '/') child.remove_suffix(1);
    f(child, i);
  });
  return true;
}

REMORA_DECL bool zip_io::source(std::string_view name, send_source& out, std::string& err) const {
  std::string rel;
  const zip::entry* e = entry_for(name, rel);
  if (!e) return err = archive_->is_dir(rel) ? "isdir" : "notfound", false;
  if (e->is_dir()) return err = "isdir", false;
  if (e->encrypted()) return err = "noaccess", false;
  out.info = detail::zip_info(*e);
  const auto& src = archive_->src();
  if (e->method == zip::stored || e->method == zip::deflated) {
    std::size_t idx = std::size_t(e - archive_->entries().data());
    if (e->method == zip::stored && verified_[idx].load(std::memory_order_relaxed) != 1) {
      // Check the CRC once, streaming; afterwards the bytes go out without passing through us.
      auto r = archive_->open_reader(*e, err);
      bool ok = r != nullptr;
      char buf[16384];
      for (std::ptrdiff_t n = 1; ok && n > 0;) {
        n = r->read(buf, sizeof buf, err);
        ok = n >= 0;
      }
      verified_[idx].store(ok ? 1 : 2, std::memory_order_relaxed);
      if (!ok) return false;
    }
    out.offset = e->data_offset;
    out.length = e->method == zip::stored ? e->size : e->compressed_size;
    out.deflated = e->method == zip::deflated;
    out.crc32 = e->crc32;
    if (src.data()) {
      out.memory = src.data();
    } else {
      int fd = ::dup(src.fd());
      if (fd < 0) return err = "ioerror", false;
      out.fd = unique_fd(fd);
    }
    return true;
  }
  if (!archive_->read(*e, out.text, err)) return false;
  out.length = out.text.size();
  return true;
}

}  // namespace remora::vfs
