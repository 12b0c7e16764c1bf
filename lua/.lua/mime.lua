-- mime: LuaSocket's MIME filters (RFC 2045), ltn12 filters over the C core (the global
-- `mime`, also require"mime.core"). require"mime" answers that same table with these added.
-- Written for Remora from LuaSocket's manual.
--
-- mime.encode("base64") / mime.encode("quoted-printable" [, "text" | "binary"])
-- mime.decode("base64") / mime.decode("quoted-printable")
-- mime.wrap(["text" [, length]]) / mime.wrap("base64") / mime.wrap("quoted-printable")
--   break lines at `length` (76) bytes with CRLF (soft breaks for quoted-printable)
-- mime.normalize([marker])  any end-of-line convention to marker (CRLF)
-- mime.stuff()              SMTP dot-stuffing
-- mime.encodet, mime.decodet, mime.wrapt: the factories by name, for adding more.

local ltn12 = require"ltn12"
local mime = require"mime.core"

local cycle = ltn12.filter.cycle
local type, tostring, error = type, tostring, error

mime._VERSION = "MIME 1.0.3"

local encodet, decodet, wrapt = {}, {}, {}
mime.encodet, mime.decodet, mime.wrapt = encodet, decodet, wrapt

encodet["base64"] = function()
   return cycle(mime.b64, "")
end

encodet["quoted-printable"] = function(mode)
   -- binary data keeps its CRLF bytes: they are encoded like any other
   return cycle(mime.qp, "", mode == "binary" and "=0D=0A" or "\r\n")
end

decodet["base64"] = function()
   return cycle(mime.unb64, "")
end

decodet["quoted-printable"] = function()
   return cycle(mime.unqp, "")
end

wrapt["text"] = function(length)
   length = length or 76
   return cycle(mime.wrp, length, length)
end
wrapt["base64"] = wrapt["text"]
wrapt["default"] = wrapt["text"]

wrapt["quoted-printable"] = function()
   return cycle(mime.qpwrp, 76, 76)
end

-- A function making filters from the factory named by its first argument; when that is not
-- a string, the "default" factory gets every argument.
local function by_name(factories)
   return function(name, opt1, opt2)
      if type(name) ~= "string" then name, opt1, opt2 = "default", name, opt1 end
      local make = factories[name]
      if not make then error("unknown key (" .. tostring(name) .. ")", 2) end
      return make(opt1, opt2)
   end
end

mime.encode = by_name(encodet)
mime.decode = by_name(decodet)
mime.wrap = by_name(wrapt)

function mime.normalize(marker)
   return cycle(mime.eol, 0, marker)
end

function mime.stuff()
   return cycle(mime.dot, 2)
end

return mime
