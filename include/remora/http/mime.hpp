// Content types by file extension.
#pragma once
#include <remora/config.hpp>

#include <string_view>

namespace remora::http {
// The content type for a file name's extension (case-insensitive);
// "application/octet-stream" when unknown.
std::string_view mime_type(std::string_view filename) noexcept;
}  // namespace remora::http

#if REMORA_HEADER_ONLY
#  include <remora/http/impl/mime.ipp>
#endif
