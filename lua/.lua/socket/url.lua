-- socket.url: LuaSocket's URL functions, pure Lua. Written for Remora from LuaSocket's
-- manual (the grammar and the examples of absolute() there are what it follows).
--
--   <url> ::= [<scheme>:][//<authority>][/<path>][;<params>][?<query>][#<fragment>]
--   <authority> ::= [<userinfo>@]<host>[:<port>]      <userinfo> ::= <user>[:<password>]
--
-- url.parse(u [, default]) -> {scheme, authority, path, params, query, fragment, userinfo,
--   host, port, user, password} (only the parts present; `default` is filled and returned)
--   | nil, message. An IPv6 host is given without its brackets.
-- url.build(parsed) -> string; host/port/user/password/userinfo win over authority.
-- url.absolute(base, relative) -> string (base: a string or a parsed table), RFC 2396 style.
-- url.escape(s): every byte but letters, digits and "_" as %xx; url.unescape(s) undoes %xx.
-- url.parse_path(path) -> segments (unescaped) with is_absolute / is_directory set.
-- url.build_path(segments [, unsafe]) -> path; segments are escaped unless `unsafe`.

local url = {_VERSION = "URL 1.0.3"}

local type, pairs, tonumber, concat = type, pairs, tonumber, table.concat
local char, format = string.char, string.format

function url.escape(s)
   return (s:gsub("[^%w_]", function(c) return format("%%%02x", c:byte()) end))
end

function url.unescape(s)
   return (s:gsub("%%(%x%x)", function(h) return char(tonumber(h, 16)) end))
end

-- A path segment keeps RFC 3986's unreserved and sub-delimiter characters, ':' and '@'.
local function escape_segment(s)
   return (s:gsub("[^%w%-%._~!%$&'%(%)%*%+,;=:@]", function(c) return format("%%%02x", c:byte()) end))
end

function url.parse(u, default)
   local p = {}
   for k, v in pairs(default or {}) do p[k] = v end
   if type(u) ~= "string" or u == "" then return nil, "invalid url" end
   local rest = u
   rest = rest:gsub("#(.*)$", function(f) p.fragment = f return "" end)
   rest = rest:gsub("^([%a][%w%+%-%.]*):", function(s) p.scheme = s return "" end)
   rest = rest:gsub("^//([^/%?;]*)", function(a) p.authority = a return "" end)
   rest = rest:gsub("%?(.*)$", function(q) p.query = q return "" end)
   rest = rest:gsub(";(.*)$", function(par) p.params = par return "" end)
   if rest ~= "" then p.path = rest end
   local authority = p.authority
   if authority then
      local hostport = authority:gsub("^([^@]*)@", function(ui) p.userinfo = ui return "" end)
      local host, port = hostport:match("^%[(.*)%]:?(%d*)$")
      if not host then host, port = hostport:match("^([^:]*):?(%d*)$") end
      if host then
         if host ~= "" then p.host = host end
         if port ~= "" then p.port = port end
      else
         p.host = hostport
      end
      if p.userinfo then
         local user, password = p.userinfo:match("^([^:]*):(.*)$")
         p.user, p.password = user or p.userinfo, password
      end
   end
   return p
end

function url.build(p)
   local path = p.path or ""
   local s = path
   if p.params then s = s .. ";" .. p.params end
   if p.query then s = s .. "?" .. p.query end
   local authority = p.authority
   if p.host then
      authority = p.host:find(":", 1, true) and "[" .. p.host .. "]" or p.host
      if p.port then authority = authority .. ":" .. p.port end
      local userinfo = p.userinfo
      if p.user then userinfo = p.user .. (p.password and ":" .. p.password or "") end
      if userinfo then authority = userinfo .. "@" .. authority end
   end
   if authority then
      if s ~= "" and path:sub(1, 1) ~= "/" then s = "/" .. s end
      s = "//" .. authority .. s
   end
   if p.scheme then s = p.scheme .. ":" .. s end
   if p.fragment then s = s .. "#" .. p.fragment end
   return s
end

function url.parse_path(path)
   local segments = {}
   path = path or ""
   for seg in path:gmatch("[^/]+") do segments[#segments + 1] = url.unescape(seg) end
   if path:sub(1, 1) == "/" then segments.is_absolute = 1 end
   if #path > 0 and path:sub(-1) == "/" then segments.is_directory = 1 end
   return segments
end

function url.build_path(segments, unsafe)
   local out = {}
   for i = 1, #segments do
      out[i] = unsafe and segments[i] or escape_segment(segments[i])
   end
   local path = concat(out, "/")
   if segments.is_absolute then path = "/" .. path end
   if segments.is_directory and #out > 0 then path = path .. "/" end
   return path
end

-- Removes "." and ".." segments from an absolute path ("/a/b/../c/." -> "/a/c/").
local function remove_dots(path)
   local stack, trailing = {}, false
   for seg in path:gmatch("/([^/]*)") do
      trailing = seg == "." or seg == ".."
      if seg == ".." then
         stack[#stack] = nil
      elseif seg ~= "." then
         stack[#stack + 1] = seg
      end
   end
   local s = "/" .. concat(stack, "/")
   if trailing and s:sub(-1) ~= "/" then s = s .. "/" end
   return s
end

-- The directory part of a base path ("/b/c/d" -> "/b/c/"; "" -> "/").
local function directory(path)
   if not path or path == "" then return "/" end
   return path:match("^(.*/)") or "/"
end

function url.absolute(base, relative)
   local b = type(base) == "table" and base or url.parse(base) or {}
   local r = url.parse(relative)
   if not r then return url.build(b) end
   if r.scheme then return relative end
   r.scheme = b.scheme
   if not r.authority then
      r.authority, r.host, r.port, r.userinfo, r.user, r.password =
         b.authority, b.host, b.port, b.userinfo, b.user, b.password
      if not r.path and not r.params and not r.query then
         -- only a fragment (or nothing): the base itself
         r.path, r.params, r.query = b.path, b.params, b.query
         if not r.fragment then r.fragment = b.fragment end
      elseif not r.path then
         r.path = directory(b.path)
      elseif r.path:sub(1, 1) == "/" then
         r.path = remove_dots(r.path)
      else
         r.path = remove_dots(directory(b.path) .. r.path)
      end
   end
   return url.build(r)
end

return url
