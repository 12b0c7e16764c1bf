#pragma once
#include <remora/lsp/compiler.hpp>

namespace remora::lsp {

namespace detail {
// Appends `_emit"..."`; a newline in the text becomes `\` + newline inside the literal, which
// Lua reads as a newline and counts as a line.
inline void emit_text(std::string& out, std::string_view text) {
  if (text.empty()) return;
  out.append("_emit\"");
  for (unsigned char c : text) {
    switch (c) {
      case '\n': out.append("\\\n"); break;
      case '\r': out.append("\\r"); break;
      case '"': out.append("\\\""); break;
      case '\\': out.append("\\\\"); break;
      case '\0': out.append("\\0"); break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          buf[0] = '\\';
          buf[1] = char('0' + c / 100);
          buf[2] = char('0' + (c / 10) % 10);
          buf[3] = char('0' + c % 10);
          out.append(buf, 4);
        } else {
          out.push_back(char(c));
        }
    }
  }
  out.append("\";");
}

inline std::size_t count_lines(std::string_view s, std::size_t end) {
  std::size_t n = 1;
  for (std::size_t i = 0; i < end && i < s.size(); ++i)
    if (s[i] == '\n') ++n;
  return n;
}
}  // namespace detail

REMORA_DECL bool compile(std::string_view page, std::string& chunk, std::string& error) {
  static constexpr std::string_view open_tag = "<?lsp", close_tag = "?>";
  chunk.clear();
  chunk.reserve(page.size() + page.size() / 4 + 64);
  chunk.append("local _ENV,pathname,io,page,app=...;");
  std::size_t pos = 0;
  while (pos < page.size()) {
    std::size_t start = page.find(open_tag, pos);
    if (start == std::string_view::npos) {
      detail::emit_text(chunk, page.substr(pos));
      break;
    }
    detail::emit_text(chunk, page.substr(pos, start - pos));
    std::size_t body = start + open_tag.size();
    std::size_t end = page.find(close_tag, body);
    if (end == std::string_view::npos) {
      error = "start tag without end tag at line# " + std::to_string(detail::count_lines(page, start));
      chunk.clear();
      return false;
    }
    std::string_view code = page.substr(body, end - body);
    // A "--" comment on the code's last line would swallow what we append after it: end
    // that line first (the one case where chunk and page lines drift apart).
    auto last_nl = code.rfind('\n');
    auto last_line = last_nl == std::string_view::npos ? code : code.substr(last_nl + 1);
    bool comment = last_line.find("--") != std::string_view::npos;
    if (!code.empty() && code.front() == '=') {
      chunk.append("_emit(tostring(").append(code.substr(1)).append(comment ? "\n));" : "));");
    } else {
      chunk.append(code).append(comment ? "\n" : " ");
    }
    pos = end + close_tag.size();
    // Swallow one newline after the tag; keep it in the chunk as white space so that line
    // numbers stay aligned.
    if (pos < page.size() && page[pos] == '\n') {
      chunk.push_back('\n');
      pos += 1;
    } else if (pos + 1 < page.size() && page[pos] == '\r' && page[pos + 1] == '\n') {
      chunk.push_back('\n');
      pos += 2;
    }
  }
  return true;
}

}  // namespace remora::lsp
