// A read-only IO over a ZIP archive (an app's .zip, the resource zip, or a zip compiled into
// the executable). Writes fail with "noaccess".
#pragma once
#include <remora/config.hpp>
#include <remora/vfs/io.hpp>
#include <remora/zip/archive.hpp>

#include <atomic>
#include <memory>
#include <vector>

namespace remora::vfs {

class zip_io final : public io {
 public:
  explicit zip_io(std::unique_ptr<zip::archive> a);
  std::pair<std::string, std::string> resourcetype() const override { return {"zip", "zip"}; }
  std::string realpath(std::string_view) const override { return {}; }
  bool stat(std::string_view name, file_info& info, std::string& err) const override;
  std::unique_ptr<file> open(std::string_view name, std::string_view mode, std::string& err) override;
  bool files(std::string_view name, const std::function<void(std::string_view, const file_info&)>& f,
             std::string& err) const override;
  bool mkdir(std::string_view, std::string& err) override { return err = "noaccess", false; }
  bool rmdir(std::string_view, std::string& err) override { return err = "noaccess", false; }
  bool remove(std::string_view, std::string& err) override { return err = "noaccess", false; }
  bool rename(std::string_view, std::string_view, std::string& err) override { return err = "noaccess", false; }
  // Stored entries go out straight from the archive (sendfile or memory) once their CRC has
  // been checked; deflated entries as their raw deflate stream (for gzip clients); zstd
  // entries decompressed.
  bool source(std::string_view name, send_source& out, std::string& err) const override;
  const zip::archive& archive() const noexcept { return *archive_; }

  // Opens `path` (a file) as a ZIP IO; nullptr with `err` naming the file.
  static std::shared_ptr<zip_io> open_file(const std::string& path, std::string& err);

 private:
  const zip::entry* entry_for(std::string_view name, std::string& rel) const;
  std::unique_ptr<zip::archive> archive_;
  std::unique_ptr<std::atomic<std::uint8_t>[]> verified_;  // per entry: 0 unknown, 1 good, 2 bad
};

}  // namespace remora::vfs

#if REMORA_HEADER_ONLY
#  include <remora/vfs/impl/zip_io.ipp>
#endif
