-- socket.core: LuaSocket's TCP objects over ba.socket, as Mako has them. It makes the global
-- `socket` from the C global `sockcompat` (newtry, protect, skip) and answers it; socket.lua
-- adds the rest of the namespace. Written for Remora from LuaSocket's manual.
--
-- socket.tcp() (tcp4, tcp6) -> a master object; :connect(host, port) makes it a client,
--   :bind(address, port) then :listen() a server.
-- client: receive([pattern [, prefix]]) with "*l" (a line, LF ends it, CRs are dropped),
--   "*a" (until the peer closes), or a byte count -> data | nil, "timeout"|"closed", partial
--   send(data [, i [, j]]) -> index of the last byte sent | nil, "closed", last index sent
--   settimeout(seconds [, mode]), gettimeout(), close(), shutdown(), getpeername(),
--   getsockname() -> address, port, "inet"|"inet6"; getstats(), setstats(), dirty(),
--   setoption(name, value) ("keepalive" reaches the socket; the other LuaSocket options are
--   accepted and have no effect), getoption(name).
-- server: accept() -> client | nil, "timeout"|"closed"; getsockname(), settimeout(), close().
-- Mako's additions: connect(basocket) wraps a ba.socket object, sock([op]) answers the
--   ba.socket object, upgrade(shark), dohandshake(), sslhandshake(), certificate(),
--   peername(), sockname(), connected(); socket.secure([shark]) makes later connects use TLS.
--
-- Timeouts: nil or a negative value waits for ever; 0 waits 1 ms (ba.socket has no
-- non-blocking mode); otherwise the seconds, per operation. Errors other than "timeout" read
-- "closed", as LuaSocket's; a failed connect answers ba.socket's reason ("cannotconnect").
-- Blocking calls suspend an LSP page or a cosocket and block a ba.thread job.

local ba = ba
local setmetatable, type, tostring, tonumber, error = setmetatable, type, tostring, tonumber, error
local concat, floor, ceil = table.concat, math.floor, math.ceil

local socket = assert(sockcompat, "socket.core needs the C global sockcompat")
_G.socket = socket
local basock = ba.socket

socket._VERSION = "LuaSocket 3.0 (Remora)"
socket.BLOCKSIZE = 2048

local default_shark -- socket.secure()

function socket.gettime()
   local secs, nsecs = ba.datetime("NOW"):ticks()
   return secs + nsecs / 1e9
end

function socket.sleep(seconds)
   if type(seconds) ~= "number" or seconds <= 0 then return end
   ba.sleep(ceil(seconds * 1000))
end

function socket.secure(shark)
   default_shark = shark or ba.sharkclient()
   return default_shark
end

-- ba.socket's reasons as LuaSocket's.
local function reason(err)
   if err == "timeout" then return "timeout" end
   return "closed"
end

local tcp = {}
local meta = {__index = tcp}

function meta.__tostring(self)
   return ("tcp{%s}: %s"):format(self.kind, self.id)
end

local function new(s, kind)
   local self = setmetatable({s = s, kind = kind, buf = "", received = 0, sent = 0, options = {}}, meta)
   self.id = tostring({}):match("0x%x+") or "?"
   self.age = socket.gettime()
   return self
end

function socket.tcp()
   return new(nil, "master")
end
socket.tcp4, socket.tcp6 = socket.tcp, socket.tcp

-- ---- connection --------------------------------------------------------------------------

function tcp:connect(address, port)
   if type(address) == "userdata" then -- a ba.socket object (Mako)
      self.s, self.kind, self.buf = address, "client", ""
      return 1
   end
   if self.s then return nil, "already connected" end
   local op = self.op or {}
   local s, err = basock.connect(address, tonumber(port), {
      timeout = self.timeout, intf = op.intf or self.address, shark = op.shark or default_shark})
   if not s then return nil, err end
   self.s, self.kind, self.buf = s, "client", ""
   return 1
end

function tcp:bind(address, port)
   if address == "*" or address == "0.0.0.0" then address = nil end
   if address == "localhost" then address = "127.0.0.1" end
   self.address, self.port = address, tonumber(port) or 0
   return 1
end

function tcp:listen()
   if self.s then return nil, "already connected" end
   local op = self.op or {}
   local s, err = basock.bind(self.port or 0, {intf = op.intf or self.address, shark = op.shark,
                                               ipv6 = op.ipv6 or (self.address or ""):find(":") ~= nil})
   if not s then return nil, err end
   self.s, self.kind = s, "server"
   return 1
end

function tcp:accept()
   if self.kind ~= "server" or not self.s then return nil, "closed" end
   local s, err = self.s:accept(self.timeout)
   if not s then return nil, reason(err) end
   local c = new(s, "client")
   c.timeout, c.timeout_s = self.timeout, self.timeout_s
   return c
end

function tcp:close()
   if self.s then self.s:close() end
   self.s, self.kind, self.buf = nil, "closed", ""
   return 1
end

function tcp:shutdown()
   return self:close()
end

-- ---- timeouts and options ---------------------------------------------------------------

function tcp:settimeout(value)
   value = tonumber(value)
   if not value or value < 0 then
      self.timeout, self.timeout_s = nil, nil
   else
      self.timeout, self.timeout_s = value == 0 and 1 or ceil(value * 1000), value
   end
   return 1
end

function tcp:gettimeout()
   return self.timeout_s or -1, -1
end

function tcp:setoption(name, value, ...)
   self.options[name] = value
   if name == "keepalive" and self.s then
      local ok, err = self.s:setoption("keepalive", value and true or false, ...)
      if not ok then return nil, err end
   end
   return 1
end

function tcp:getoption(name)
   return self.options[name]
end

function tcp:getstats()
   return self.received, self.sent, socket.gettime() - self.age
end

function tcp:setstats(received, sent, age)
   self.received, self.sent = tonumber(received) or self.received, tonumber(sent) or self.sent
   if age then self.age = socket.gettime() - tonumber(age) end
   return 1
end

function tcp:dirty()
   return #self.buf > 0
end

function tcp:getfd() return -1 end
function tcp:setfd() end

-- ---- addresses -------------------------------------------------------------------------

local function address(ip, port, v6)
   if not ip then return nil, port or "closed" end
   return ip, port, v6 and "inet6" or "inet"
end

function tcp:getpeername()
   if not self.s or self.kind ~= "client" then return nil, "closed" end
   return address(self.s:peername())
end

function tcp:getsockname()
   if not self.s then return nil, "closed" end
   return address(self.s:sockname())
end

tcp.peername, tcp.sockname = tcp.getpeername, tcp.getsockname

-- ---- Mako's additions ----------------------------------------------------------------------

function tcp:sock(op)
   if type(op) == "table" then self.op = op end
   return self.s
end

function tcp:connected()
   if self.s and self.kind == "client" then return true end
   return nil, "closed"
end

function tcp:upgrade(shark)
   if not self.s then return nil, "closed" end
   if not self.s.upgrade then return nil, "sslnotenabled" end
   return self.s:upgrade(shark or default_shark or ba.sharkclient())
end

function tcp:dohandshake(op)
   if not self.s then return nil, "closed" end
   if self.s.isresumed and self.s:cipher() then return true end
   op = op or self.op
   return self:upgrade(op and op.shark)
end
tcp.sslhandshake = tcp.dohandshake

function tcp:certificate()
   if not self.s then return nil, "closed" end
   return self.s:certificate()
end

-- ---- data ----------------------------------------------------------------------------------

-- Reads what arrives next into the buffer: true, or false and the LuaSocket reason.
local function fill(self)
   if not self.s then return false, "closed" end
   local data, err = self.s:read(self.timeout)
   if not data then return false, reason(err) end
   self.buf = self.buf .. data
   self.received = self.received + #data
   return true
end

-- The first n bytes of the buffer, taken out of it.
local function take(self, n)
   local b = self.buf
   self.buf = b:sub(n + 1)
   return b:sub(1, n)
end

function tcp:receive(pattern, prefix)
   if self.kind ~= "client" or not self.s then return nil, "closed" end
   pattern = pattern or "*l"
   prefix = prefix or ""
   local count = tonumber(pattern)
   if count then
      count = floor(count)
      if #self.buf < count then -- the pieces are joined once, not on every read
         local parts, have = {self.buf}, #self.buf
         self.buf = ""
         while have < count do
            local data, err = self.s:read(self.timeout)
            if not data then return nil, reason(err), prefix .. concat(parts) end
            self.received = self.received + #data
            parts[#parts + 1] = data
            have = have + #data
         end
         self.buf = concat(parts)
      end
      return prefix .. take(self, count)
   end
   if pattern == "*l" or pattern == "l" then
      local from = 1
      while true do
         local nl = self.buf:find("\n", from, true)
         if nl then return prefix .. (take(self, nl):sub(1, -2):gsub("\r", "")) end
         from = #self.buf + 1
         local ok, err = fill(self)
         if not ok then return nil, err, prefix .. (take(self, #self.buf):gsub("\r", "")) end
      end
   end
   if pattern == "*a" or pattern == "a" then
      local parts = {prefix, take(self, #self.buf)}
      while true do
         local data, err = self.s:read(self.timeout)
         if not data then
            err = reason(err)
            if err == "closed" then return concat(parts) end
            return nil, err, concat(parts)
         end
         self.received = self.received + #data
         parts[#parts + 1] = data
      end
   end
   error("invalid receive pattern: " .. tostring(pattern), 2)
end

function tcp:send(data, i, j)
   if self.kind ~= "client" or not self.s then return nil, "closed", 0 end
   data = tostring(data)
   local len = #data
   i, j = tonumber(i) or 1, tonumber(j) or len
   if i < 0 then i = len + i + 1 end
   if j < 0 then j = len + j + 1 end
   if i < 1 then i = 1 end
   if j > len then j = len end
   if j < i then return i - 1 end
   local waited = 0
   while true do
      local ok, err = self.s:write(data, i, j)
      if ok then break end
      if type(err) ~= "number" then return nil, reason(err), i - 1 end
      -- the socket's queue is full (a page writing to another task's socket): wait for room
      if self.timeout and waited >= self.timeout then return nil, "timeout", i - 1 end
      ba.sleep(10)
      waited = waited + 10
   end
   self.sent = self.sent + (j - i + 1)
   return j
end

return socket
