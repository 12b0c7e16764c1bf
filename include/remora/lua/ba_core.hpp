// The core `ba` library functions of the Barracuda App Server (BAS) / Mako Server: encoders,
// dates, randomness, compression and small utilities. AES (ba.aeskey/aesencode/aesdecode) is
// not here: it arrives with the crypto backend.
//
// Contracts (BAS behaviour where it could be confirmed from public BAS Lua code; the rest is
// our documented choice):
//
// ba.b64encode(s) -> string            RFC 4648 base64, with '=' padding.
// ba.b64urlencode(s) -> string         RFC 4648 base64url alphabet ('-', '_'), no padding.
// ba.b64decode(s) -> string | nil      Accepts both alphabets (BAS code feeds it base64url
//                                      JWKS members), missing padding, and ASCII whitespace
//                                      anywhere (PEM bodies). nil for any other byte, a '='
//                                      before the end, a padded length that is not a multiple
//                                      of 4, or a dangling single character.
// ba.urlencode(s) -> string            Percent-encodes every byte except RFC 3986 unreserved
//                                      characters (A-Z a-z 0-9 - . _ ~); a space becomes %20
//                                      (valid in a path as well as in a query; every form
//                                      decoder reads it). Upper-case hex.
// ba.urlencode(t) -> string            "k1=v1&k2=v2": keys and values encoded as above, keys in
//                                      sorted order (deterministic output); a value that is an
//                                      array repeats its key ("k=a&k=b"). Values are converted
//                                      with tostring semantics (numbers, booleans).
// ba.urldecode(s) -> string | nil      '+' is a space, %XX decoded; nil on a malformed escape.
// ba.clock() -> integer                Milliseconds from CLOCK_MONOTONIC.
// ba.sleep(ms)                         Blocks the calling thread (nanosleep, resumed on EINTR).
// ba.encdate([t]) -> string            IMF-fixdate for t seconds since the epoch (default now).
// ba.parsedate(s) -> integer | nil     IMF-fixdate, RFC 850 and asctime; and, because BAS code
//                                      parses "Mon, 2 Mar 2024" (a build date), the lenient
//                                      form "[Wkd,] D Mon YYYY [hh:mm[:ss]] [GMT|UTC|Z]".
// ba.rnd() -> integer                  Uniform in [0, 2^31-1] (math.random's float form has no
//                                      BAS use; integers are what BAS returns).
// ba.rnd(m) / ba.rnd(m, n) -> integer  Uniform in [1, m] / [m, n], from getrandom(2), without
//                                      modulo bias. Float bounds are floored (BAS code passes
//                                      0xFFFFFFFF/2-1). An empty interval raises an error.
// ba.rndbs(n) -> string                n random bytes (0 <= n <= 16 MiB).
// ba.rnds(n) -> integer                An integer made of n random bytes, 1 <= n <= 8 (BAS code
//                                      uses ba.rnds(4) & 0xFFFF and ba.rnds(1) as numbers);
//                                      n == 8 may be negative (two's complement).
// ba.rndseed(...)                      Accepted and ignored: the kernel CSPRNG needs no seed.
// ba.version() -> "Remora x.y.z", number, builddate
//                                      number = major*10000 + minor*100 + patch;
//                                      builddate = the compiler's __DATE__ ("Mmm dd yyyy"), as
//                                      BAS code reads the third value.
// ba.deflate(s [, level [, fmt]]) -> string
//                                      zlib compression; fmt "raw" (RFC 1951, the default),
//                                      "zlib" (RFC 1950) or "gzip" (RFC 1952); level -1..9
//                                      (default -1 = zlib's default). BAS's exact signature
//                                      could not be confirmed.
// ba.mime(ext) -> string               Content type for a file extension ("png", no dot);
//                                      "application/octet-stream" when unknown.
// ba.cmpaddr(a, b) -> boolean          True when two IPv4/IPv6 address strings name the same
//                                      address; an IPv4-mapped IPv6 address equals its IPv4
//                                      form; a "%zone" suffix and [brackets] are ignored.
//                                      false when either does not parse.
//
// ba.datetime(v [, delta]) -> datetime | nil, err     An instant with nanoseconds, plus a
// display offset (minutes east of UTC; 0 unless an ISO string or :offset(m) gives one).
//   v: "NOW" | "MIN" (0001-01-01T00:00:00Z) | "MAX" (9999-12-31T23:59:59.999999999Z)
//      | ISO 8601 "YYYY-MM-DD[(T|t| )hh:mm[:ss[.fraction]]][Z|z|+hh[:mm]|-hh[:mm]|+hhmm]"
//      | seconds since the epoch (integer or float) [, nanoseconds]
//      | a table {year=, month=, day= [, hour=, min=, sec=, nsec=]} (UTC)
//      | another datetime (copied).
//   delta (optional table) is added: {days=, hours=, mins=, secs=, nsecs=}.
//   An unparsable string or an invalid date gives nil, "invalid datetime".
//   Every value must stay within MIN..MAX ("datetime out of range" error otherwise).
// Methods:
//   dt:ticks() -> secs, nsecs           Seconds since the epoch and the nanosecond part.
//   dt:date([local]) -> table           {year, month, day, hour, min, sec, nsec, wday, yday}
//                                       in the display offset (wday 1 = Sunday, as os.date);
//                                       local == true uses the host's local time zone.
//   dt:tostring([fmt]) -> string        Without fmt, ISO 8601: "2024-03-02T10:00:00Z", with
//                                       ".fraction" (trailing zeros trimmed) when nsecs != 0 and
//                                       "+hh:mm" when the display offset is not 0; the output
//                                       parses back to the same instant. With fmt, strftime(3)
//                                       of the (offset) wall time.
//   dt:offset() -> minutes              The display offset.
//   dt:offset(minutes) -> datetime      Same instant, another display offset (|m| < 24h).
// Metamethods: dt + n | n + dt | dt + delta-table -> datetime (n seconds, may be fractional);
//   dt - n | dt - delta-table -> datetime; dt1 - dt2 -> seconds (integer when the nanosecond
//   parts agree, else float); == < <= compare instants only; __tostring = dt:tostring().
#pragma once
#include <remora/config.hpp>

struct lua_State;

namespace remora::lua {

inline constexpr const char* datetime_tname = "remora.datetime";

// Installs the functions above into the table at the top of the stack (the `ba` table).
void open_ba_core(lua_State* L);

}  // namespace remora::lua

#if REMORA_HEADER_ONLY
#  include <remora/lua/impl/ba_core.ipp>
#endif
