-- require"http": Mako's HTTP client wrapper over the httpc module. create(op) takes httpc's
-- options; request() follows redirects (301, 302, 303, 307, 308; at most 10) for requests
-- without a body of their own; every other httpc method is there as it is.
local httpc = require"httpc"

local M = {}
local C = {}

C.__index = function(self, k)
   local v = C[k]
   if v ~= nil then return v end
   local f = self.h[k]
   if type(f) == "function" then
      return function(s, ...) return f(s.h, ...) end
   end
end

function M.create(op)
   return setmetatable({h = httpc.create(op)}, C)
end

-- `loc` against `base`: absolute, scheme-relative, absolute-path or relative.
local function absolute(base, loc)
   if loc:find("^%a[%w+.-]*://") then return loc end
   local scheme, authority, path = base:match("^(%a[%w+.-]*://)([^/?#]*)([^?#]*)")
   if not scheme then return loc end
   if loc:sub(1, 2) == "//" then return scheme:match("^(.-)//") .. loc end
   if loc:sub(1, 1) == "/" then return scheme .. authority .. loc end
   local dir = path:match("^(.*/)") or "/"
   return scheme .. authority .. dir .. loc
end
M.absolute = absolute

local redirects = {[301] = true, [302] = true, [303] = true, [307] = true, [308] = true}

function C:request(op)
   op = op or {}
   local h = self.h
   local method = (op.method or "GET"):upper()
   local cur = {}
   for k, v in pairs(op) do cur[k] = v end
   for _ = 1, 10 do
      local ok, err = h:request(cur)
      if not ok then return ok, err end
      if cur.size or method == "POST" or method == "PUT" or method == "PATCH" then return ok end
      local status = h:status()
      local loc = redirects[status] and h:header("Location")
      if not loc then return ok end
      h:read"*a"  -- the redirect's own body
      cur.url = absolute(cur.url, loc)
      cur.query = nil
      if status == 303 then cur.method, method = "GET", "GET" end
   end
   return nil, "redirect"
end

return M
