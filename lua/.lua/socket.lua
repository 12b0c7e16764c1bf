-- socket: LuaSocket's namespace (written for Remora from LuaSocket's manual) over
-- socket.core, which makes the TCP objects on ba.socket.
--
-- socket.connect(address, port [, locaddr [, locport]]) -> client | nil, message
-- socket.bind(address, port [, backlog]) -> server | nil, message   ("*": every interface)
-- socket.tcp(), socket.gettime(), socket.sleep(seconds), socket.secure([shark])
-- socket.newtry(finalizer), socket.protect(func), socket.try(...), socket.skip(d, ...)
-- socket.sink(mode, sock)   "keep-open" (default) | "close-when-done"
-- socket.source(mode, sock [, length])   "until-closed" (default) | "by-length"
-- socket.choose(table), socket.sinkt, socket.sourcet
-- As in Mako, requiring it removes the global `sockcompat` (the namespace now has its
-- functions) and sets the global `socket`. There is no socket.select, no UDP and no DNS
-- table: Mako's layer has none either.

local socket = require"socket.core"
_G.sockcompat = nil

local setmetatable, type, tostring, error, min = setmetatable, type, tostring, error, math.min

function socket.connect(address, port, locaddr, locport)
   local c = socket.tcp()
   if locaddr then
      local ok, err = c:bind(locaddr, locport or 0)
      if not ok then return nil, err end
   end
   local ok, err = c:connect(address, port)
   if not ok then return nil, err end
   return c
end
socket.connect4, socket.connect6 = socket.connect, socket.connect

function socket.bind(address, port, backlog)
   local s = socket.tcp()
   s:setoption("reuseaddr", true)
   local ok, err = s:bind(address, port)
   if not ok then return nil, err end
   ok, err = s:listen(backlog)
   if not ok then return nil, err end
   return s
end

socket.try = socket.newtry()

function socket.choose(t)
   return function(name, opt1, opt2)
      if type(name) ~= "string" then name, opt1, opt2 = "default", name, opt1 end
      local make = t[name or "nil"]
      if not make then error("unknown key (" .. tostring(name) .. ")", 3) end
      return make(opt1, opt2)
   end
end

-- Sinks and sources over a client; tables callable as functions, with the socket's getfd
-- and dirty, as LuaSocket's.
local function wrapped(sock, call)
   return setmetatable({
      getfd = function() return sock:getfd() end,
      dirty = function() return sock:dirty() end,
   }, {__call = call})
end

local sinkt, sourcet = {}, {}
socket.sinkt, socket.sourcet = sinkt, sourcet

sinkt["keep-open"] = function(sock)
   return wrapped(sock, function(_, chunk)
      if chunk then return sock:send(chunk) end
      return 1
   end)
end
sinkt["default"] = sinkt["keep-open"]

sinkt["close-when-done"] = function(sock)
   return wrapped(sock, function(_, chunk)
      if chunk then return sock:send(chunk) end
      sock:close()
      return 1
   end)
end

sourcet["by-length"] = function(sock, length)
   return wrapped(sock, function()
      if length <= 0 then return nil end
      local chunk, err = sock:receive(min(socket.BLOCKSIZE, length))
      if err then return nil, err end
      length = length - #chunk
      return chunk
   end)
end

sourcet["until-closed"] = function(sock)
   local done = false
   return wrapped(sock, function()
      if done then return nil end
      local chunk, err, partial = sock:receive(socket.BLOCKSIZE)
      if chunk then return chunk end
      if err == "closed" then
         sock:close()
         done = true
         return partial
      end
      return nil, err
   end)
end
sourcet["default"] = sourcet["until-closed"]

socket.sink = socket.choose(sinkt)
socket.source = socket.choose(sourcet)

return socket
