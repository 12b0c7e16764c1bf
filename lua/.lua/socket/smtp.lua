-- socket.smtp: LuaSocket's SMTP client (RFC 5321) and message source (RFC 5322 / MIME), with
-- Mako's TLS options. Written for Remora from LuaSocket's manual.
--
-- smtp.send{from=, rcpt= string | list, source= ltn12 source [, server=, port=, domain=,
--   user=, password=, step=, create=, tlsmode="none"|"starttls"|"tls"|"auto",
--   shark= (Mako: TLS from the start, or for STARTTLS with starttls=true), starttls=true,
--   ["8bit"]=true (BODY=8BITMIME when the server has it)]} -> 1 | nil, message
--   The body is dot-stuffed on the way. AUTH PLAIN or LOGIN when user and password are
--   given (PLAIN first). Without tlsmode, shark or starttls, no TLS is used ("auto" would
--   try STARTTLS whenever a server offers it).
-- smtp.message(mesgt) -> ltn12 source of the message: mesgt = {headers = {name = value},
--   body = string | ltn12 source | {preamble=, [1] = mesgt, ..., epilogue=}}; Date, X-Mailer
--   and MIME-Version are added when missing, multipart bodies get a boundary.
-- smtp.open(server, port [, create [, op]]) -> session with greet(domain), starttls(shark),
--   auth(user, password, ext), mail(from [, eightbit]), rcpt(to), data(src [, step]),
--   send(mailt), quit(), close(); their failures raise errors that socket.protect catches.
-- smtp.TIMEOUT (60 s), SERVER ("localhost"), PORT (25), DOMAIN, ZONE ("-0000").

local socket = require"socket"
local tp = require"socket.tp"
local ltn12 = require"ltn12"
local mime = require"mime"

local type, pairs, ipairs, tostring, error, setmetatable = type, pairs, ipairs, tostring, error, setmetatable
local concat, sort = table.concat, table.sort
local coroutine, os, math = coroutine, os, math

local smtp = {
   TIMEOUT = 60,
   SERVER = "localhost",
   PORT = 25,
   DOMAIN = os.getenv("SERVER_NAME") or "localhost",
   ZONE = "-0000",
}
socket.smtp = smtp

---------------------------------------------------------------------------------------------
-- The session

local session = {}
session.__index = session

function session:greet(domain)
   local try = self.try
   if not self.greeted then
      try(self.tp:check("2.."))
      self.greeted = true
   end
   try(self.tp:command("EHLO", domain or smtp.DOMAIN))
   local code, reply = self.tp:check("2..")
   if not code then -- an old server: HELO, no extensions
      try(self.tp:command("HELO", domain or smtp.DOMAIN))
      code, reply = self.tp:check("2..")
      try(code, reply)
   end
   self.ext = reply or ""
   return self.ext
end

-- STARTTLS on the open connection; the caller greets again.
function session:starttls(shark)
   local try = self.try
   try(self.tp:command("STARTTLS"))
   try(self.tp:check("2.."))
   try(self.tp:getcontrol():upgrade(shark))
   return 1
end

function session:plain(user, password)
   local try = self.try
   try(self.tp:command("AUTH", "PLAIN " .. mime.b64("\0" .. user .. "\0" .. password)))
   return try(self.tp:check("2.."))
end

function session:login(user, password)
   local try = self.try
   try(self.tp:command("AUTH", "LOGIN"))
   try(self.tp:check("3.."))
   try(self.tp:send(mime.b64(user) .. "\r\n"))
   try(self.tp:check("3.."))
   try(self.tp:send(mime.b64(password) .. "\r\n"))
   return try(self.tp:check("2.."))
end

function session:auth(user, password, ext)
   if not user or not password then return 1 end
   ext = ext or self.ext or ""
   local mechs = ext:match("AUTH[ =]([^\n]*)") or ""
   if mechs:find("PLAIN") then return self:plain(user, password) end
   if mechs:find("LOGIN") then return self:login(user, password) end
   self.try(nil, "authentication not supported")
end

function session:mail(from, eightbit)
   local arg = "FROM:" .. from
   if eightbit and (self.ext or ""):find("8BITMIME") then arg = arg .. " BODY=8BITMIME" end
   self.try(self.tp:command("MAIL", arg))
   return self.try(self.tp:check("2.."))
end

function session:rcpt(to)
   self.try(self.tp:command("RCPT", "TO:" .. to))
   return self.try(self.tp:check("2.."))
end

function session:data(src, step)
   local try = self.try
   try(self.tp:command("DATA"))
   try(self.tp:check("3.."))
   -- dot-stuffed, and remembering whether the body ended its last line
   local seen = 2
   local stuff = ltn12.filter.cycle(function(ctx, chunk)
      local out, n = mime.dot(ctx, chunk)
      if chunk then seen = n end
      return out, n
   end, 2)
   try(self.tp:source(ltn12.source.chain(src, stuff), step))
   try(self.tp:send(seen == 2 and ".\r\n" or "\r\n.\r\n"))
   return try(self.tp:check("2.."))
end

function session:quit()
   self.try(self.tp:command("QUIT"))
   return self.try(self.tp:check("2.."))
end

function session:close()
   return self.tp:close()
end

function session:send(mailt)
   self:mail(mailt.from, mailt["8bit"])
   local rcpt = mailt.rcpt
   if type(rcpt) == "table" then
      for _, to in ipairs(rcpt) do self:rcpt(to) end
   else
      self:rcpt(rcpt)
   end
   return self:data(ltn12.source.simplify(mailt.source), mailt.step)
end

function smtp.open(server, port, create, op)
   local t = socket.try(tp.connect(server or smtp.SERVER, port or smtp.PORT, smtp.TIMEOUT, create, op))
   local s = setmetatable({tp = t}, session)
   s.try = socket.newtry(function() s:close() end)
   return s
end

-- Which TLS to use: "tls" (from the start), "starttls" (required), "auto" or "none", and
-- the client SharkSSL object for it.
local function tls_of(mailt)
   local mode = mailt.tlsmode
   if not mode then
      if mailt.starttls then mode = "starttls"
      elseif mailt.shark then mode = "tls"
      else mode = "none" end
   end
   local shark = mailt.shark
   if mode ~= "none" and not shark then shark = ba.sharkclient() end
   return mode, shark
end

smtp.send = socket.protect(function(mailt)
   local mode, shark = tls_of(mailt)
   local s = smtp.open(mailt.server, mailt.port, mailt.create, mode == "tls" and {shark = shark} or nil)
   local ext = s:greet(mailt.domain)
   if mode == "starttls" or (mode == "auto" and ext:find("STARTTLS")) then
      if not ext:find("STARTTLS") then s.try(nil, "STARTTLS not offered by the server") end
      s:starttls(shark)
      ext = s:greet(mailt.domain)
   end
   s:auth(mailt.user, mailt.password, ext)
   s:send(mailt)
   s:quit()
   return s:close()
end)

---------------------------------------------------------------------------------------------
-- The message source

local special_names = {["mime-version"] = "MIME-Version", ["content-id"] = "Content-ID",
                       ["message-id"] = "Message-ID", ["content-md5"] = "Content-MD5"}

local function canonic(name)
   name = name:lower()
   return special_names[name] or (name:gsub("%f[%w]%l", string.upper))
end

local function lowered(headers)
   local t = {}
   for k, v in pairs(headers or {}) do t[tostring(k):lower()] = v end
   return t
end

local boundaries = 0
local function new_boundary()
   boundaries = boundaries + 1
   return ("=_remora_%s_%d_%d"):format(os.date("!%Y%m%d%H%M%S"), math.random(0, 0x7fffffff), boundaries)
end

-- Header lines, in a stable order (the common ones first).
local first = {"date", "from", "to", "cc", "reply-to", "subject", "mime-version", "message-id",
               "content-type", "content-transfer-encoding", "content-disposition", "content-id"}
local function yield_headers(h)
   local out, done = {}, {}
   for _, name in ipairs(first) do
      if h[name] then
         out[#out + 1] = canonic(name) .. ": " .. tostring(h[name]) .. "\r\n"
         done[name] = true
      end
   end
   local rest = {}
   for name in pairs(h) do if not done[name] then rest[#rest + 1] = name end end
   sort(rest)
   for _, name in ipairs(rest) do out[#out + 1] = canonic(name) .. ": " .. tostring(h[name]) .. "\r\n" end
   out[#out + 1] = "\r\n"
   coroutine.yield(concat(out))
end

local yield_part

local function yield_multipart(m)
   local h = lowered(m.headers)
   local boundary = new_boundary()
   h["content-type"] = (h["content-type"] or "multipart/mixed") .. '; boundary="' .. boundary .. '"'
   yield_headers(h)
   local body = m.body
   if body.preamble then coroutine.yield(body.preamble .. "\r\n") end
   for _, part in ipairs(body) do
      coroutine.yield("\r\n--" .. boundary .. "\r\n")
      yield_part(part)
   end
   coroutine.yield("\r\n--" .. boundary .. "--\r\n\r\n")
   if body.epilogue then coroutine.yield(body.epilogue .. "\r\n") end
end

local function yield_simple(m)
   local h = lowered(m.headers)
   h["content-type"] = h["content-type"] or 'text/plain; charset="iso-8859-1"'
   yield_headers(h)
   local body = m.body
   if type(body) == "function" then
      while true do
         local chunk, err = body()
         if err then error(err, 0) end
         if not chunk then break end
         coroutine.yield(chunk)
      end
   elseif body ~= nil then
      coroutine.yield(tostring(body))
   end
end

yield_part = function(m)
   if type(m.body) == "table" then yield_multipart(m) else yield_simple(m) end
end

function smtp.message(mesgt)
   local m = {headers = lowered(mesgt.headers), body = mesgt.body}
   local h = m.headers
   h["date"] = h["date"] or os.date("!%a, %d %b %Y %H:%M:%S ") .. (mesgt.zone or smtp.ZONE)
   h["x-mailer"] = h["x-mailer"] or socket._VERSION
   h["mime-version"] = h["mime-version"] or "1.0"
   local co = coroutine.create(function() yield_part(m) end)
   return function()
      if coroutine.status(co) == "dead" then return nil end
      local ok, chunk = coroutine.resume(co)
      if not ok then return nil, chunk end
      return chunk
   end
end

return smtp
