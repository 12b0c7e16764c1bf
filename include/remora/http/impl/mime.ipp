#pragma once
#include <remora/http/mime.hpp>
#include <remora/http/util.hpp>

namespace remora::http {

REMORA_DECL std::string_view mime_type(std::string_view name) noexcept {
  static constexpr std::pair<std::string_view, std::string_view> table[] = {
      {"html", "text/html; charset=utf-8"}, {"htm", "text/html; charset=utf-8"},
      {"css", "text/css"}, {"js", "text/javascript"}, {"mjs", "text/javascript"},
      {"json", "application/json"}, {"map", "application/json"}, {"txt", "text/plain"},
      {"xml", "text/xml"}, {"csv", "text/csv"}, {"md", "text/markdown"},
      {"png", "image/png"}, {"jpg", "image/jpeg"}, {"jpeg", "image/jpeg"}, {"gif", "image/gif"},
      {"svg", "image/svg+xml"}, {"ico", "image/x-icon"}, {"webp", "image/webp"},
      {"avif", "image/avif"}, {"bmp", "image/bmp"},
      {"woff", "font/woff"}, {"woff2", "font/woff2"}, {"ttf", "font/ttf"}, {"otf", "font/otf"},
      {"wasm", "application/wasm"}, {"pdf", "application/pdf"}, {"zip", "application/zip"},
      {"gz", "application/gzip"}, {"tar", "application/x-tar"}, {"zst", "application/zstd"},
      {"mp3", "audio/mpeg"}, {"ogg", "audio/ogg"}, {"wav", "audio/wav"},
      {"mp4", "video/mp4"}, {"webm", "video/webm"},
      {"pem", "application/x-pem-file"}, {"crt", "application/x-x509-ca-cert"},
      {"lua", "text/plain"}, {"manifest", "text/cache-manifest"},
      {"webmanifest", "application/manifest+json"},
  };
  auto slash = name.rfind('/');
  if (slash != std::string_view::npos) name.remove_prefix(slash + 1);
  auto dot = name.rfind('.');
  if (dot == std::string_view::npos) return "application/octet-stream";
  auto ext = name.substr(dot + 1);
  for (auto& [e, t] : table)
    if (iequals(e, ext)) return t;
  return "application/octet-stream";
}

}  // namespace remora::http
