-- loadconf: mako.conf as the full Lua state reads it (the second pass; the C++ side read it
-- first with the base library only, for the resource limits).
--
-- require"loadconf" returns a table holding every global the conf file assigns, custom ones
-- included. The file runs with that table as its environment, which sees _G only while the
-- chunk runs. Errors are printed, prefixed with the file name, and leave what was set so far.
-- loadconf.load() reads the file again and returns the new table (require"loadconf" then
-- returns it too).

local M

local function read()
   local conf = {}
   local fname = mako.cfgfname
   if fname then
      local f, err = loadfile(fname, "t", setmetatable(conf, {__index = _G}))
      if f then
         local ok, e = pcall(f)
         if not ok then print(fname .. ": " .. tostring(e)) end
      else
         print(err)
      end
      setmetatable(conf, nil)
   end
   return conf
end

local function load()
   M = read()
   -- `load` is kept out of the option names: a conf may not assign it.
   setmetatable(M, {__index = {load = load}})
   package.loaded.loadconf = M
   return M
end

return load()
