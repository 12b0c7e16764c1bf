-- ltn12: filters, sources, sinks and pumps (LTN012, "Filters, sources and sinks"), with
-- LuaSocket's module name and functions. Written for Remora from LuaSocket's manual.
--
-- The protocol every piece follows:
--   source() -> chunk | nil (the end) | nil, message (an error)
--   sink(chunk, err) -> true | nil, message; sink(nil) marks the end
--   filter(chunk) -> output. A filter given data returns output ("" when it has nothing yet);
--     the caller then calls it with "" until it answers "" to take any further output. At the
--     end it is called with nil until it answers nil, taking the last output meanwhile.
--
-- ltn12.filter.cycle(low [, ctx, extra])  a filter running low(ctx, chunk, extra) -> out, ctx
-- ltn12.filter.chain(f1, f2, ...)         data through f1, then f2, ...
-- ltn12.source.empty() / error(msg) / file(handle [, msg]) / string(s) / table(t)
-- ltn12.source.simplify(src) / rewind(src) / cat(src1, ...) / chain(src, f1, ...)
-- ltn12.sink.table([t]) -> sink, t / null() / error(msg) / file(handle [, msg])
-- ltn12.sink.simplify(snk) / chain(f1, ..., snk)
-- ltn12.pump.step(src, snk) / all(src, snk [, step]) -> true | nil, message

local ltn12 = {_VERSION = "LTN12 1.0.3", BLOCKSIZE = 2048}
local filter, source, sink, pump = {}, {}, {}, {}
ltn12.filter, ltn12.source, ltn12.sink, ltn12.pump = filter, source, sink, pump

local select, type, error, unpack = select, type, error, table.unpack

-- The marker an input function returns when it has no chunk for now.
local NO_INPUT = {}

-- A filter kept to the protocol: driven(f) returns next(input), which answers f's next
-- output, taking chunks from input() as f asks for them (a string, nil for the end, nil and
-- a message for an error, or NO_INPUT). next answers a non-empty string, NO_INPUT when input
-- has nothing and f wants more, nil once f has given everything (or nil, message).
local function driven(f)
   local draining, at_end, done, empties = false, false, false, 0
   return function(input)
      while not done do
         local out
         if draining then
            out = f(not at_end and "" or nil)
         else
            local chunk, err = input()
            if chunk == NO_INPUT then return NO_INPUT end
            if chunk == nil and err ~= nil then return nil, err end
            at_end = chunk == nil
            draining = true
            empties = 0
            out = f(chunk)
         end
         if out == nil then
            if not at_end then error("filter returned nil before the end of the data", 3) end
            done = true
         elseif out ~= "" then
            empties = 0
            return out
         elseif not at_end then
            draining = false  -- f wants more data
         else
            -- at the end "" may come once before the rest; twice would never end
            empties = empties + 1
            if empties > 1 then error('filter returned "" twice at the end of the data', 3) end
         end
      end
      return nil
   end
end

---------------------------------------------------------------------------------------------
-- Filters

function filter.cycle(low, ctx, extra)
   return function(chunk)
      local out
      out, ctx = low(ctx, chunk, extra)
      return out
   end
end

-- A chain keeps the chunks it has been given but not yet passed to its first filter (one,
-- when callers keep to the protocol) and pulls output through its stages, each stage taking
-- its input from the one before.
function filter.chain(...)
   local n = select("#", ...)
   if n == 0 then error("filter.chain needs at least one filter", 2) end
   local queue, qfirst, qlast = {}, 1, 0
   local END = {}
   local input = function()
      if qfirst > qlast then return NO_INPUT end
      local chunk = queue[qfirst]
      queue[qfirst] = nil
      qfirst = qfirst + 1
      if chunk == END then return nil end
      return chunk
   end
   for i = 1, n do
      local next_out, before = driven((select(i, ...))), input
      input = function() return next_out(before) end
   end
   return function(chunk)
      if chunk == nil then
         qlast = qlast + 1
         queue[qlast] = END
      elseif chunk ~= "" or qfirst > qlast then
         qlast = qlast + 1
         queue[qlast] = chunk
      end
      local out = input()
      if out == NO_INPUT then return "" end
      return out
   end
end

---------------------------------------------------------------------------------------------
-- Sources

function source.empty()
   return function() return nil end
end

function source.error(err)
   return function() return nil, err end
end

function source.file(handle, io_err)
   if not handle then return source.error(io_err or "unable to open file") end
   local open = true
   return function()
      if not open then return nil end
      local chunk = handle:read(ltn12.BLOCKSIZE)
      if not chunk then
         open = false
         handle:close()
      end
      return chunk
   end
end

function source.string(s)
   if not s then return source.empty() end
   local pos = 1
   return function()
      if pos > #s then return nil end
      local chunk = s:sub(pos, pos + ltn12.BLOCKSIZE - 1)
      pos = pos + #chunk
      return chunk
   end
end

function source.table(t)
   local i = 0
   return function()
      i = i + 1
      return t[i]
   end
end

-- A fancy source may answer (chunk, newsource): later chunks come from newsource.
function source.simplify(src)
   return function()
      while true do
         local chunk, other = src()
         if type(other) == "function" then
            src = other
            if chunk ~= nil then return chunk end
         elseif chunk == nil then
            return nil, other
         else
            return chunk
         end
      end
   end
end

-- rewound(chunk) pushes `chunk` back; rewound() gives the chunks pushed back (the last
-- first), then those of `src`.
function source.rewind(src)
   local back = {}
   return function(chunk)
      if chunk == nil then
         local n = #back
         if n == 0 then return src() end
         local c = back[n]
         back[n] = nil
         return c
      end
      back[#back + 1] = chunk
   end
end

function source.cat(...)
   local list, i = {...}, 1
   local n = select("#", ...)
   return function()
      while i <= n do
         local chunk, err = list[i]()
         if chunk ~= nil then return chunk end
         if err then return nil, err end
         i = i + 1
      end
      return nil
   end
end

function source.chain(src, f, ...)
   if select("#", ...) > 0 then f = filter.chain(f, ...) end
   if not src or not f then error("source.chain needs a source and a filter", 2) end
   local next_out = driven(f)
   return function() return next_out(src) end
end

---------------------------------------------------------------------------------------------
-- Sinks

function sink.table(t)
   t = t or {}
   return function(chunk)
      if chunk then t[#t + 1] = chunk end
      return 1
   end, t
end

function sink.null()
   return function() return 1 end
end

function sink.error(err)
   return function() return nil, err end
end

function sink.file(handle, io_err)
   if not handle then return sink.error(io_err or "unable to open file") end
   return function(chunk)
      if chunk == nil then
         handle:close()
         return 1
      end
      local ok, err = handle:write(chunk)
      if not ok then return nil, err end
      return 1
   end
end

-- A fancy sink may answer (true, newsink): later chunks go to newsink.
function sink.simplify(snk)
   return function(chunk, err)
      local ok, other = snk(chunk, err)
      if not ok then return nil, other end
      if type(other) == "function" then snk = other end
      return 1
   end
end

-- sink.chain(f, snk) or sink.chain(f1, f2, ..., snk).
function sink.chain(...)
   local n = select("#", ...)
   if n < 2 then error("sink.chain needs a filter and a sink", 2) end
   local args = {...}
   local snk = args[n]
   local next_out = driven(n == 2 and args[1] or filter.chain(unpack(args, 1, n - 1)))
   return function(chunk, err)
      if chunk == "" then return 1 end
      local given = false
      local input = function()
         if given then return NO_INPUT end
         given = true
         return chunk
      end
      while true do
         local out = next_out(input)
         if out == NO_INPUT then return 1 end
         if out == nil then return snk(nil, err) end
         local ok, e = snk(out, err)
         if not ok then return nil, e end
      end
   end
end

---------------------------------------------------------------------------------------------
-- Pumps

-- One chunk from `src` to `snk`: true, or a false value at the end of the data, followed by
-- a message when either side failed.
function pump.step(src, snk)
   local chunk, src_err = src()
   local ok, snk_err = snk(chunk, src_err)
   if chunk ~= nil and ok then return 1 end
   return nil, src_err or snk_err
end

function pump.all(src, snk, step)
   step = step or pump.step
   while true do
      local ok, err = step(src, snk)
      if not ok then
         if err then return nil, err end
         return 1
      end
   end
end

return ltn12
