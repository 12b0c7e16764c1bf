-- socket.mail: Mako's simple e-mail sender over socket.smtp (written for Remora from how Mako
-- applications call it).
--
--   require"socket.mail"
--   local mail = socket.mail{server=, [port=, user=, password=, shark=, starttls=, domain=]}
--     port: 465 with a shark and no starttls (TLS from the start), else 25
--   local ok, err = mail:send{subject=, from=, to=, [cc=, bcc=, replyto= or ["reply-to"]=,
--     body= | txtbody= and/or htmlbody=, htmlimg=, attach=, encoding=, charset=]}
--
-- to, cc, bcc and replyto are an address or a list ("Name <a@b>" or "a@b"); every to, cc
-- and bcc address receives the message, bcc appears in no header. txtbody and htmlbody
-- together make a multipart/alternative message; htmlimg (attachments with an id=, shown
-- inline as cid:<id>) makes the HTML part multipart/related. attach is an attachment or a
-- list of them: {source = string | file, name=, content= (MIME type; by default from the
-- name's extension), description=, id=}. encoding: "QUOTED" (quoted-printable, the
-- default), "B64", "8BIT" or "NONE"; charset: "utf-8" by default. A subject with non-ASCII
-- bytes is sent as an RFC 2047 encoded word. send answers 1 or nil, message.

local socket = require"socket"
local ltn12 = require"ltn12"
local mime = require"mime"
local smtp = require"socket.smtp"

local type, pairs, ipairs, error, setmetatable, concat = type, pairs, ipairs, error, setmetatable, table.concat
local ba, io = ba, io

local function required(t, field, what)
   if not t[field] then error((what or field) .. " is required", 3) end
end

local function list(x)
   if x == nil then return {} end
   if type(x) == "table" then return x end
   return {x}
end

-- The header form of one or more addresses.
local function header_list(x)
   local l = list(x)
   if #l == 0 then return nil end
   return concat(l, ", ")
end

-- The envelope form: "Name <a@b>" -> "<a@b>", "a@b" -> "<a@b>".
local function envelope(addr)
   return addr:match("<[^>]*>") or "<" .. addr:match("^%s*(.-)%s*$") .. ">"
end

local function source_of(x)
   if type(x) == "string" then return ltn12.source.string(x) end
   if io.type(x) == "file" or (type(x) == "userdata" and x.read) then return ltn12.source.file(x) end
   error("a body or an attachment must be a string or a file", 4)
end

local encoders = {
   B64 = function(src)
      return ltn12.source.chain(src, mime.encode("base64"), mime.wrap()), "base64"
   end,
   QUOTED = function(src)
      return ltn12.source.chain(src, mime.normalize(), mime.encode("quoted-printable"),
                                mime.wrap("quoted-printable")), "quoted-printable"
   end,
   ["8BIT"] = function(src)
      return ltn12.source.chain(src, mime.normalize(), mime.wrap()), "8bit"
   end,
   NONE = function(src)
      return src, "8bit"
   end,
}

local function text_part(body, html, t)
   local encode = encoders[(t.encoding or "QUOTED"):upper()] or encoders.QUOTED
   local src, cte = encode(source_of(body))
   return {
      headers = {["content-type"] = (html and "text/html" or "text/plain") .. "; charset=" .. (t.charset or "utf-8"),
                 ["content-transfer-encoding"] = cte},
      body = src,
   }, cte
end

local function attachment(a)
   local name = a.name and a.name:match("([^/\\]*)$") or ""
   if name == "" then name = "unknown" end
   local h = {
      ["content-type"] = ('%s; name="%s"'):format(a.content or ba.mime(name:match("%.([^.]*)$") or ""), name),
      ["content-transfer-encoding"] = "base64",
   }
   if a.id then -- an image the HTML shows
      h["content-id"] = "<" .. a.id .. ">"
      h["content-disposition"] = ('inline; filename="%s"'):format(name)
   else
      h["content-disposition"] = ('attachment; filename="%s"'):format(name)
      h["content-description"] = a.description
   end
   return {headers = h, body = ltn12.source.chain(source_of(a.source), mime.encode("base64"), mime.wrap())}
end

-- One attachment table or a list of them.
local function attachments(x)
   if type(x[1]) == "table" then return x end
   return {x}
end

local function encoded_subject(subject, charset)
   if not subject:find("[\128-\255]") then return subject end
   return ("=?%s?B?%s?="):format(charset or "utf-8", mime.b64(subject))
end

local mail = {}
mail.__index = mail

function mail:send(t)
   required(t, "subject")
   required(t, "from")
   required(t, "to")
   local from = list(t.from)[1]
   local headers = {
      from = header_list(t.from),
      to = header_list(t.to),
      cc = header_list(t.cc),
      ["reply-to"] = header_list(t["reply-to"] or t.replyto),
      subject = encoded_subject(t.subject, t.charset),
   }
   local content, cte
   local txt, html = t.txtbody, t.htmlbody
   if (txt and html) or (html and t.htmlimg) then
      local parts = {}
      if txt then parts[#parts + 1] = text_part(txt, false, t) end
      local hpart = text_part(html, true, t)
      if t.htmlimg then
         local related = {hpart}
         for _, a in ipairs(attachments(t.htmlimg)) do related[#related + 1] = attachment(a) end
         hpart = {headers = {["content-type"] = "multipart/related"}, body = related}
      end
      parts[#parts + 1] = hpart
      content = {headers = {["content-type"] = "multipart/alternative"}, body = parts}
   else
      content, cte = text_part(txt or html or t.body or "", txt == nil and html ~= nil, t)
   end
   local message
   if t.attach then
      local body = {content}
      for _, a in ipairs(attachments(t.attach)) do body[#body + 1] = attachment(a) end
      headers["content-type"] = "multipart/mixed"
      message = {headers = headers, body = body}
   else
      for k, v in pairs(content.headers) do headers[k] = v end
      message = {headers = headers, body = content.body}
   end
   if type(message.body) == "table" then
      message.body.preamble = "This is a multi-part message in MIME format."
   end
   local rcpt = {}
   for _, field in ipairs{"to", "cc", "bcc"} do
      for _, addr in ipairs(list(t[field])) do rcpt[#rcpt + 1] = envelope(addr) end
   end
   return smtp.send{
      from = envelope(from), rcpt = rcpt, source = smtp.message(message),
      server = self.server, port = self.port, domain = self.domain, user = self.user,
      password = self.password, shark = self.shark, starttls = self.starttls,
      tlsmode = self.tlsmode, ["8bit"] = cte == "8bit",
   }
end

function socket.mail(cfg)
   local self = setmetatable({}, mail)
   for k, v in pairs(cfg or {}) do self[k] = v end
   required(self, "server", 'Mail "server name"')
   if not self.port then self.port = self.shark and not self.starttls and 465 or 25 end
   return self
end

return socket.mail
