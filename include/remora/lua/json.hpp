// ba.json: JSON encoding, decoding and a streaming parser for Lua (BAS's ba.json API).
//
// ba.json.encode(value [,options]) -> string | nil,err
//   nil -> null, booleans, numbers, strings and tables. `options` is accepted for BAS
//   compatibility and currently ignored. Mapping choices:
//   * A table whose keys are exactly the integers 1..n (n >= 1) is an array. Any other
//     non-empty table is an object; integer and float keys become their decimal text
//     ({[1]=1,[3]=3} -> {"1":1,"3":3}), other key types are an error.
//   * An empty table is `{}`, unless its metatable has __jsontype == "array", then `[]`.
//   * Integers are written without a decimal point. Floats are written in the shortest form
//     that reads back to the same double, with ".0" appended when that form looks like an
//     integer (3.0 -> "3.0", -0.0 -> "-0.0"), so a round trip keeps math.type. NaN and
//     infinities are an error.
//   * Strings must be valid UTF-8 (an error otherwise) and are written as is, except `"`, `\`
//     and control characters (\b \f \n \r \t, others \u00XX). '/' is not escaped.
//   * ba.json.null (a unique light userdata) is `null`; functions, threads, other userdata
//     are an error. Tables are read raw (no __index/__pairs). Nesting deeper than
//     max_json_depth and cyclic tables are an error.
// ba.json.encodestr(string) -> the JSON string literal, quotes included | nil,err
// ba.json.decode(text [,nullvalue]) -> value | nil,"json decode error at position N: ..."
//   RFC 8259 strictly: one value, surrounded by optional whitespace. N is the 1-based byte
//   position of the offending byte (length+1 for an unexpected end). Objects and arrays
//   become tables; `null` becomes ba.json.null, or `nullvalue` when a second argument is
//   given at all (decode(s, nil) drops nulls: object members vanish, array slots are holes).
//   A number without fraction or exponent that fits in 64 bits is an integer, any other a
//   float ("-0" is integer 0); a float beyond the double range is an error, one below it
//   reads as 0. \u escapes become UTF-8, surrogate pairs are combined, a lone surrogate is
//   an error, and so are invalid UTF-8, raw control characters, leading zeros and nesting
//   deeper than max_json_depth. Parsing is iterative: no recursion, bounded Lua stack.
// ba.json.parser([nullvalue]) -> parser, for JSON text arriving in pieces (split anywhere,
//   even inside a string, escape or number). The text is a sequence of JSON values separated
//   by optional whitespace (BAS's JSON-over-socket framing).
//   parser:parse(data [,all]) ->
//     all true:  true, {v1, v2, ...}  every value completed by this data, in order
//                true                 when no value is complete yet
//     all false: true, v              the first value completed; bytes after it are kept
//                                     and parsed by the next call (parse("") gets the next)
//                true                 when no value is complete yet
//     nil, err  on a syntax error (same message format, positions count from the first byte
//               of the stream). The parser then stays failed: later calls return the error.
//   A top-level number is only complete when a byte that cannot continue it follows
//   ("4" waits, "4 " gives 4). With a nil nullvalue, a top-level null is indistinguishable
//   from "nothing yet" in the single-value form.
#pragma once
#include <remora/config.hpp>

#include <string>
#include <string_view>

struct lua_State;

namespace remora::lua {

// Deepest nesting of arrays/objects accepted by encode and decode.
inline constexpr int max_json_depth = 1000;

// Installs ba.json into the table at the top of the stack (the `ba` table).
void open_json_lib(lua_State* L);

// Pushes ba.json.null (the same light userdata in every state).
void push_json_null(lua_State* L);

// Encodes the value at `idx` (rules above) into `out`. False with `err` when the value cannot
// be encoded; Lua memory errors propagate as Lua errors. Leaves the stack as it was.
bool encode_value(lua_State* L, int idx, std::string& out, std::string& err);

// Decodes `text` (one JSON value, nulls as ba.json.null) and pushes the value. False with
// `err` ("json decode error at position N: ...") and nothing pushed when it is not valid.
bool decode_value(lua_State* L, std::string_view text, std::string& err);

}  // namespace remora::lua

#if REMORA_HEADER_ONLY
#  include <remora/lua/impl/json.ipp>
#endif
