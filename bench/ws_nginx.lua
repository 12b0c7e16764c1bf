-- The nginx peer of bench/websocket.sh: a WebSocket echo server in nginx's Lua module.
--
-- Written for this benchmark (it is not lua-resty-websocket, which Debian does not package):
-- only the server side of RFC 6455 that an echo needs, on the module's raw request socket.
-- Loaded once per worker by `init_by_lua_file`; each request runs `wsecho.serve()` from
-- `content_by_lua_block`. LuaJIT: `bit` for the header fields, `ffi` to unmask payloads.
--
--   handshake  GET with `Upgrade: websocket` and `Sec-WebSocket-Key` over HTTP/1.1 -> 101 with
--              `Sec-WebSocket-Accept` = base64(sha1(key .. GUID)) (nginx adds `Connection:
--              upgrade` to a 101 itself); anything else -> 400. No subprotocol, no extension.
--   frames     client frames must be masked, RSV bits 0; 7-, 16- and 64-bit lengths (at most
--              MAX bytes a message); text and binary echoed with their opcode, fragmented ones
--              echoed as one frame once complete; ping -> pong with its payload; pong ignored;
--              close -> close with the same status code, then the connection ends. A protocol
--              error sends close 1002 (1009 for a message over MAX) and ends the connection.
--   not done   UTF-8 validation of text, close reason text, control frames in the middle of
--              a fragmented message are handled (as above) but not tested.
local bit = require "bit"
local ffi = require "ffi"

local band, bor, bxor, rshift, lshift = bit.band, bit.bor, bit.bxor, bit.rshift, bit.lshift
local byte, char, sub, concat = string.byte, string.char, string.sub, table.concat
local ngx = ngx

local GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
local MAX = 64 * 1024 * 1024
local READ_TIMEOUT_MS = 3600 * 1000  -- an idle connection waits this long for a frame

-- One unmasking buffer for the worker: unmask() does not yield, so requests cannot share it
-- at the same time.
local buf, buf_size = nil, 0
local function unmask(data, m1, m2, m3, m4)
  local n = #data
  if n == 0 then return data end
  if n > buf_size then
    buf_size = math.max(n, 4096)
    buf = ffi.new("uint8_t[?]", buf_size)
  end
  ffi.copy(buf, data, n)
  for i = 0, n - 1, 4 do buf[i] = bxor(buf[i], m1) end
  for i = 1, n - 1, 4 do buf[i] = bxor(buf[i], m2) end
  for i = 2, n - 1, 4 do buf[i] = bxor(buf[i], m3) end
  for i = 3, n - 1, 4 do buf[i] = bxor(buf[i], m4) end
  return ffi.string(buf, n)
end

-- -> fin, opcode, payload; or nil, nil, error (a socket error, or a close code and why).
local function recv_frame(sock)
  local hdr, err = sock:receive(2)
  if not hdr then return nil, nil, err end
  local b1, b2 = byte(hdr, 1, 2)
  local fin, opcode, len = band(b1, 0x80) ~= 0, band(b1, 0x0f), band(b2, 0x7f)
  if band(b1, 0x70) ~= 0 then return nil, nil, 1002, "RSV bits set" end
  if band(b2, 0x80) == 0 then return nil, nil, 1002, "unmasked client frame" end
  if len == 126 then
    local ext
    ext, err = sock:receive(2)
    if not ext then return nil, nil, err end
    local x1, x2 = byte(ext, 1, 2)
    len = bor(lshift(x1, 8), x2)
  elseif len == 127 then
    local ext
    ext, err = sock:receive(8)
    if not ext then return nil, nil, err end
    local x1, x2, x3, x4, x5, x6, x7, x8 = byte(ext, 1, 8)
    if x1 ~= 0 or x2 ~= 0 or x3 ~= 0 or x4 >= 0x80 then return nil, nil, 1009, "message too big" end
    len = (((x4 * 256 + x5) * 256 + x6) * 256 + x7) * 256 + x8
  end
  if opcode >= 8 and (len > 125 or not fin) then return nil, nil, 1002, "bad control frame" end
  if len > MAX then return nil, nil, 1009, "message too big" end
  local mask
  mask, err = sock:receive(4)
  if not mask then return nil, nil, err end
  local payload = ""
  if len > 0 then
    payload, err = sock:receive(len)
    if not payload then return nil, nil, err end
  end
  return fin, opcode, unmask(payload, byte(mask, 1, 4))
end

-- One unmasked, unfragmented frame from the server.
local function send_frame(sock, opcode, payload)
  local n, b1 = #payload, bor(0x80, opcode)
  local hdr
  if n < 126 then
    hdr = char(b1, n)
  elseif n < 65536 then
    hdr = char(b1, 126, rshift(n, 8), band(n, 0xff))
  else
    hdr = char(b1, 127, 0, 0, 0, 0, band(rshift(n, 24), 0xff), band(rshift(n, 16), 0xff),
               band(rshift(n, 8), 0xff), band(n, 0xff))
  end
  return sock:send({ hdr, payload })
end

local function close_code(code)
  return char(rshift(code, 8), band(code, 0xff))
end

wsecho = {}

function wsecho.serve()
  local h = ngx.req.get_headers()
  local key = h["sec-websocket-key"]
  if ngx.req.get_method() ~= "GET" or ngx.req.http_version() ~= 1.1 or type(key) ~= "string"
      or type(h.upgrade) ~= "string" or h.upgrade:lower() ~= "websocket" then
    return ngx.exit(400)
  end
  ngx.status = 101
  ngx.header["Upgrade"] = "websocket"
  ngx.header["Sec-WebSocket-Accept"] = ngx.encode_base64(ngx.sha1_bin(key .. GUID))
  ngx.header["Content-Type"] = nil
  local ok, err = ngx.send_headers()
  if ok then ok, err = ngx.flush(true) end
  if not ok then
    ngx.log(ngx.ERR, "websocket: sending the 101: ", err)
    return ngx.exit(444)
  end
  local sock
  sock, err = ngx.req.socket(true)
  if not sock then
    ngx.log(ngx.ERR, "websocket: no raw socket: ", err)
    return ngx.exit(444)
  end
  sock:settimeout(READ_TIMEOUT_MS)

  local parts, parts_op, parts_len = nil, nil, 0
  while true do
    local fin, opcode, payload, why = recv_frame(sock)
    if not opcode then
      if type(payload) == "number" then  -- a protocol error: close with its code
        ngx.log(ngx.INFO, "websocket: ", why)
        send_frame(sock, 0x8, close_code(payload))
      end
      break
    end
    if opcode == 0x1 or opcode == 0x2 then
      if parts then
        send_frame(sock, 0x8, close_code(1002))
        break
      end
      if fin then
        ok, err = send_frame(sock, opcode, payload)
        if not ok then break end
      else
        parts, parts_op, parts_len = { payload }, opcode, #payload
      end
    elseif opcode == 0x0 then
      if not parts then
        send_frame(sock, 0x8, close_code(1002))
        break
      end
      parts[#parts + 1] = payload
      parts_len = parts_len + #payload
      if parts_len > MAX then
        send_frame(sock, 0x8, close_code(1009))
        break
      end
      if fin then
        ok, err = send_frame(sock, parts_op, concat(parts))
        if not ok then break end
        parts = nil
      end
    elseif opcode == 0x8 then
      send_frame(sock, 0x8, sub(payload, 1, 2))
      break
    elseif opcode == 0x9 then
      ok, err = send_frame(sock, 0xA, payload)
      if not ok then break end
    elseif opcode ~= 0xA then
      send_frame(sock, 0x8, close_code(1002))
      break
    end
  end
  return ngx.exit(ngx.OK)
end
