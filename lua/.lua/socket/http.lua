-- socket.http: LuaSocket's HTTP client interface (from LuaSocket's manual), on Remora's
-- `http` module (httpc underneath: TLS, proxies and mako.conf's proxy apply).
--
-- http.request(url [, body]) -> body, code, headers, statusline | nil, err
--     with a body: a POST (Content-Type application/x-www-form-urlencoded)
-- http.request{url=, sink=, method=, headers=, source=, redirect=, proxy=, create=}
--     -> 1, code, headers, statusline | nil, err
--     headers: request headers (lower-case names as LuaSocket documents; any case works);
--     source: an ltn12 source for the body (give headers["content-length"] or it is sent
--     chunked); sink: an ltn12 sink for the answer's body; redirect=false: none followed.
-- http.TIMEOUT (seconds, default 60), http.USERAGENT.
local httpm = require"http"
local httpc = require"httpc"
local ltn12 = require"ltn12"

local M = {TIMEOUT = 60, USERAGENT = "Remora"}

local reasons = {[200] = "OK", [201] = "Created", [204] = "No Content", [301] = "Moved Permanently",
   [302] = "Found", [303] = "See Other", [304] = "Not Modified", [307] = "Temporary Redirect",
   [308] = "Permanent Redirect", [400] = "Bad Request", [401] = "Unauthorized", [403] = "Forbidden",
   [404] = "Not Found", [500] = "Internal Server Error", [502] = "Bad Gateway", [503] = "Service Unavailable"}

local function trequest(r)
   local h = r.redirect == false and httpc.create() or httpm.create()
   h:timeout(math.floor((M.TIMEOUT or 60) * 1000))
   local headers = {}
   local size
   for k, v in pairs(r.headers or {}) do
      if k:lower() == "content-length" then size = tonumber(v) else headers[k] = v end
   end
   local has_ua = false
   for k in pairs(headers) do if k:lower() == "user-agent" then has_ua = true end end
   if not has_ua then headers["User-Agent"] = M.USERAGENT end
   local method = (r.method or (r.source and "POST") or "GET"):upper()
   local ok, err = h:request{url = r.url, method = method, header = headers, size = size}
   if not ok then h:close() return nil, err end
   if r.source then
      local src = r.source
      while true do
         local chunk, serr = src()
         if serr then h:close() return nil, serr end
         if not chunk then break end
         if #chunk > 0 then
            ok, err = h:write(chunk)
            if not ok then h:close() return nil, err end
         end
      end
   end
   local code, serr = h:status()
   if not code then h:close() return nil, serr end
   local out = {}
   for k, v in h:headerpairs() do
      k = k:lower()
      out[k] = out[k] and (out[k] .. ", " .. v) or v
   end
   local sink = r.sink or ltn12.sink.null()
   while true do
      local data, rerr = h:read(16384)
      if not data then
         h:close()
         if rerr then sink(nil, rerr) return nil, rerr end
         break
      end
      local sok, werr = sink(data)
      if not sok then h:close() return nil, werr end
   end
   sink(nil)
   return 1, code, out, "HTTP/1.1 " .. code .. (reasons[code] and (" " .. reasons[code]) or "")
end

function M.request(req, body)
   if type(req) == "table" then return trequest(req) end
   local t = {}
   local r = {url = req, sink = ltn12.sink.table(t)}
   if body then
      r.source = ltn12.source.string(body)
      r.headers = {["content-length"] = #body, ["content-type"] = "application/x-www-form-urlencoded"}
      r.method = "POST"
   end
   local ok, code, headers, status = trequest(r)
   if not ok then return nil, code end
   return table.concat(t), code, headers, status
end

return M
