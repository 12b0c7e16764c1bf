-- sqlutil: helpers over luasql.sqlite, with Mako's module name and functions (written for
-- Remora from Mako's manual).
--
--   su.open([env,] name [, "READONLY"|"NOCREATE"]) -> env, conn   (raises an error when
--     the file cannot be opened: "Cannot open <path>: <message>")
--   su.close(env, conn)
--   su.dir([path]) -> the database directory (with a path: set it)
--   su.exist(name) -> true | false
--   su.find(c, sql) -> the first row's values | nil [, message]   ("SELECT " is put in front)
--   su.findt(c, sql, t) -> t filled with the first row's column=value | nil [, message]
--   su.iter(c, sql [, tab]) -> an iterator over the rows: their values, or (tab) a table of
--     column=value for each; at the end nil, or nil, message after an error
--   su.select(c, sql, func) -> func(cursor)'s results | nil, message ("SELECT " in front)
--   su.exec(c, sql [, func]) -> rows changed, or func(cursor)'s results | nil, message
--
-- `c` is a connection, or a function returning env, conn: that database is then closed when
-- the call is done (for iter: at the end of the rows).
--
-- A database `name` is the file <dir>/<name>.sqlite.db. The directory is su.dir(path) when
-- it has been set, else <base>/data/, <base> being mako.conf's dbdir, the configuration
-- directory, the home directory (the working directory), or the executable's directory,
-- the first that is known. The data/ directory is made when a database is created.
local luasql = require"luasql.sqlite"

local su = {}
local dbdir -- ends with "/"

local function slash(path) return (path:gsub("/*$", "/")) end

local function basedir()
   local ok, conf = pcall(require, "loadconf")
   if ok and type(conf) == "table" and type(conf.dbdir) == "string" then return conf.dbdir end
   if mako.cfgdir then return mako.cfgdir end
   local home = ba.openio"home"
   return home and home:realpath"" or mako.execpath or "."
end

function su.dir(path)
   if path then
      assert(type(path) == "string", "bad argument #1 to 'dir' (string expected)")
      dbdir = slash(path)
   elseif not dbdir then
      dbdir = slash(basedir()) .. "data/"
   end
   return dbdir
end

local function filename(name)
   assert(type(name) == "string", "bad argument 'name' (string expected)")
   return su.dir() .. name .. ".sqlite.db"
end

-- Makes `dir` and its parents (an absolute path through the disk IO, a relative one
-- through home).
local function mkdirs(dir)
   local abs = dir:sub(1, 1) == "/"
   local io = ba.openio(abs and "disk" or "home")
   local path = abs and "/" or ""
   for part in dir:gmatch"[^/]+" do
      path = path .. part
      if not io:stat(path) then io:mkdir(path) end
      path = path .. "/"
   end
end

function su.exist(name)
   local f = io.open(filename(name), "rb")
   if f then f:close() return true end
   return false
end

function su.open(env, name, opt)
   local own = false
   if type(env) ~= "userdata" then env, name, opt = nil, env, name end
   local path = filename(name)
   if not opt then mkdirs(su.dir()) end
   if not env then env, own = luasql.sqlite(), true end
   local conn, err = env:connect(path, opt)
   if not conn then
      if own then env:close() end
      error("Cannot open " .. path .. ": " .. tostring(err), 2)
   end
   return env, conn
end

function su.close(env, conn)
   if conn then conn:close() end
   if env then env:close() end
end

-- The connection for `c`, and what to call when done with it.
local function use(c)
   if type(c) == "function" then
      local env, conn = c()
      return conn, function() su.close(env, conn) end
   end
   return c, function() end
end

-- Runs func(...) and then done(), also when func raises an error.
local function finally(done, func, ...)
   local r = table.pack(pcall(func, ...))
   done()
   if not r[1] then error(r[2], 0) end
   return table.unpack(r, 2, r.n)
end

local function query(conn, sql)
   local cur, err = conn:execute(sql)
   if cur == nil then return nil, err end
   if type(cur) ~= "userdata" then return nil, "not a query: " .. sql end
   return cur
end

function su.find(c, sql)
   local conn, done = use(c)
   return finally(done, function()
      local cur, err = query(conn, "SELECT " .. sql)
      if not cur then return nil, err end
      local n = #cur:getcolnames()
      local row, e = cur:fetch({}, "n")
      cur:close()
      if not row then return nil, e end
      return table.unpack(row, 1, n)
   end)
end

function su.findt(c, sql, t)
   local conn, done = use(c)
   return finally(done, function()
      local cur, err = query(conn, "SELECT " .. sql)
      if not cur then return nil, err end
      local row, e = cur:fetch(t or {}, "a")
      cur:close()
      return row, e
   end)
end

function su.iter(c, sql, tab)
   local conn, done = use(c)
   local ok, cur, err = pcall(query, conn, "SELECT " .. sql)
   if not ok then done() error(cur, 2) end
   if not cur then
      done()
      local reported = false
      return function()
         if reported then return nil end
         reported = true
         return nil, err
      end
   end
   local n = #cur:getcolnames()
   return function()
      if not cur then return nil end
      local row, e = cur:fetch({}, tab and "a" or "n")
      if row then
         if tab then return row end
         return table.unpack(row, 1, n)
      end
      cur:close()
      cur = nil
      done()
      return nil, e
   end
end

function su.exec(c, sql, func)
   local conn, done = use(c)
   return finally(done, function()
      local r, err = conn:execute(sql)
      if r == nil then return nil, err end
      if type(r) ~= "userdata" then return r end
      if not func then r:close() return true end
      return finally(function() r:close() end, func, r)
   end)
end

function su.select(c, sql, func)
   return su.exec(c, "SELECT " .. sql, func)
end

return su
