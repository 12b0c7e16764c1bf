-- require"httpm": REST helpers over the http module. Each call makes one request and reads
-- the whole answer.
--   hm = httpm.create([op])                   op as for httpc.create
--   hm:json(url, [tab, [method]]) -> table | nil, err, status
--       tab: sent as a JSON body (POST unless `method`); none: GET. The answer's JSON.
--   hm:post(url, data|table, [contentType]) -> body, status | nil, err
--       a table is sent as an urlencoded form
--   hm:get(url, [query]) -> body, status | nil, err
--   hm:stat(url) -> {status=, size=, type=, mtime=, etag=} | nil, err   (HEAD)
--   hm:download(url, io, name) -> true, status | nil, err     the body into a file of `io`
--   hm:upload(url, io, name, [method]) -> body, status | nil, err   a file of `io` (PUT)
local http = require"http"

local M = {}
local C = {}
C.__index = C

function M.create(op)
   return setmetatable({op = op}, C)
end

local function run(self, req, body)
   local h = http.create(self.op)
   local ok, err = h:request(req)
   if not ok then h:close() return nil, err end
   if body then
      ok, err = h:write(body)
      if not ok then h:close() return nil, err end
   end
   local status, serr = h:status()
   if not status then h:close() return nil, serr end
   local data, rerr = h:read"*a"
   local headers = h:header()
   h:close()
   if not data then return nil, rerr end
   return data, status, headers
end

local function okstatus(s) return s >= 200 and s < 300 end

function C:json(url, tab, method)
   local req = {url = url, method = method or (tab and "POST" or "GET"),
      header = {Accept = "application/json"}}
   local body
   if tab ~= nil then
      body = ba.json.encode(tab)
      req.size = #body
      req.header["Content-Type"] = "application/json"
   end
   local data, status = run(self, req, body)
   if not data then return nil, status end
   if not okstatus(status) then return nil, "status " .. status, status end
   if data == "" then return {}, status end
   local t = ba.json.decode(data)
   if t == nil then return nil, "invalidresponse", status end
   return t, status
end

local function urlencoded(t)
   local parts = {}
   for k, v in pairs(t) do parts[#parts + 1] = ba.urlencode(tostring(k)) .. "=" .. ba.urlencode(tostring(v)) end
   table.sort(parts)
   return table.concat(parts, "&")
end

function C:post(url, data, contentType)
   if type(data) == "table" then
      data = urlencoded(data)
      contentType = contentType or "application/x-www-form-urlencoded"
   end
   data = data or ""
   return run(self, {url = url, method = "POST", size = #data,
      header = {["Content-Type"] = contentType or "application/octet-stream"}}, data)
end

function C:get(url, query)
   return run(self, {url = url, query = query})
end

function C:stat(url)
   local h = http.create(self.op)
   local ok, err = h:request{url = url, method = "HEAD"}
   if not ok then h:close() return nil, err end
   local status = h:status()
   local cl = h:header"Content-Length"
   local t = {status = status, size = cl and tonumber(cl),
      type = h:header"Content-Type", etag = h:header"ETag"}
   local lm = h:header"Last-Modified"
   if lm then t.mtime = ba.parsedate(lm) end
   h:close()
   if not okstatus(status) then return nil, "status " .. status, status end
   return t
end

function C:download(url, io, name)
   local h = http.create(self.op)
   local ok, err = h:request{url = url}
   if not ok then h:close() return nil, err end
   local status = h:status()
   if not okstatus(status) then h:read"*a" h:close() return nil, "status " .. status, status end
   local f, ferr = io:open(name, "w")
   if not f then h:close() return nil, ferr end
   while true do
      local data, rerr = h:read(65536)
      if not data then
         f:close()
         h:close()
         if rerr then io:remove(name) return nil, rerr end
         return true, status
      end
      f:write(data)
   end
end

function C:upload(url, io, name, method)
   local st = io:stat(name)
   if not st then return nil, "notfound" end
   local f, ferr = io:open(name, "r")
   if not f then return nil, ferr end
   local h = http.create(self.op)
   local ok, err = h:request{url = url, method = method or "PUT", size = st.size,
      header = {["Content-Type"] = ba.mime(name:match("%.([^.]+)$") or "") or "application/octet-stream"}}
   if not ok then f:close() h:close() return nil, err end
   while true do
      local data = f:read(65536)
      if not data then break end
      ok, err = h:write(data)
      if not ok then f:close() h:close() return nil, err end
   end
   f:close()
   local status, serr = h:status()
   if not status then h:close() return nil, serr end
   local body = h:read"*a"
   h:close()
   return body, status
end

return M
