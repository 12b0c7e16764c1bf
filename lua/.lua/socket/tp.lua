-- socket.tp: the line-oriented request/reply protocol under SMTP (and FTP): a command line
-- goes out, a reply of one or more "ddd text" lines comes back ("ddd-text" continues it).
-- LuaSocket's module, written for Remora.
--
-- tp.connect(host, port [, timeout [, create]]) -> tp | nil, message
--   timeout: seconds (tp.TIMEOUT, 60, by default); create: a function making the socket
--   (socket.tcp by default); tp.connect(host, port, timeout, create, op) passes `op` (Mako's
--   ba.socket options: shark=, intf=) to the socket.
-- tp:check(ok) -> code, reply | nil, reply   reads a reply; `ok` is a pattern the code must
--   match ("2.."), a list of them, or a function(code, reply) answering the result.
-- tp:command(cmd [, arg]) -> 1 | nil, message   sends "cmd arg\r\n"
-- tp:send(data), tp:receive(pattern), tp:sink(snk [, pattern]), tp:source(src [, step])
-- tp:getcontrol() -> the socket; tp:getfd(), tp:dirty(), tp:close()

local socket = require"socket"
local ltn12 = require"ltn12"

local setmetatable, type, tonumber, tostring, ipairs, concat = setmetatable, type, tonumber, tostring, ipairs, table.concat

local tp = {TIMEOUT = 60}

local obj = {}
obj.__index = obj

-- Reads one reply: the code and its text (lines joined with "\n").
local function read_reply(c)
   local line, err = c:receive()
   if not line then return nil, err end
   local code, sep = line:match("^(%d%d%d)(.?)")
   if not code then return nil, "invalid server reply" end
   local lines = {line}
   while sep == "-" do
      line, err = c:receive()
      if not line then return nil, err end
      lines[#lines + 1] = line
      local c2
      c2, sep = line:match("^(%d%d%d)(.?)")
      if c2 ~= code then sep = "-" end -- a continuation line of another shape
   end
   return code, concat(lines, "\n")
end

function obj:check(ok)
   local code, reply = read_reply(self.c)
   if not code then return nil, reply end
   if type(ok) == "function" then return ok(tonumber(code), reply) end
   local list = type(ok) == "table" and ok or {ok}
   for _, pattern in ipairs(list) do
      if code:find(tostring(pattern)) then return tonumber(code), reply end
   end
   return nil, reply
end

function obj:command(cmd, arg)
   cmd = cmd:upper()
   local line = arg and (cmd .. " " .. arg .. "\r\n") or (cmd .. "\r\n")
   local ok, err = self.c:send(line)
   if not ok then return nil, err end
   return 1
end

function obj:send(data) return self.c:send(data) end
function obj:receive(pattern) return self.c:receive(pattern) end
function obj:getcontrol() return self.c end
function obj:getfd() return self.c:getfd() end
function obj:dirty() return self.c:dirty() end

function obj:sink(snk, pattern)
   local chunk, err = self.c:receive(pattern)
   return snk(chunk, err)
end

function obj:source(src, step)
   local snk = socket.sink("keep-open", self.c)
   return ltn12.pump.all(src, snk, step or ltn12.pump.step)
end

function obj:close()
   self.c:close()
   return 1
end

function tp.connect(host, port, timeout, create, op)
   local c, err = (create or socket.tcp)()
   if not c then return nil, err end
   if op and c.sock then c:sock(op) end
   c:settimeout(timeout or tp.TIMEOUT)
   local ok
   ok, err = c:connect(host, port)
   if not ok then
      c:close()
      return nil, err
   end
   return setmetatable({c = c}, obj)
end

return tp
