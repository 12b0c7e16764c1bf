<?lsp
-- A WebSocket chat: each browser that opens chat.html upgrades here, and what one sends goes
-- to all. One cosocket per browser: an idle one holds no thread (and 3.5 KB of memory).
if (request:header("Upgrade") or ""):lower() ~= "websocket" then
  -- req2sock would take any request's connection as a raw socket
  response:senderror(400, "chat.lsp expects a WebSocket upgrade: open chat.html")
  return
end
local s = ba.socket.req2sock(request)
if not s then return end
app.chatters = app.chatters or {}
local chatters = app.chatters
local function broadcast(msg)
  for peer in pairs(chatters) do
    -- false: that browser's queue is full (it stopped reading), so it is dropped
    if not peer:write(msg, true) then chatters[peer] = nil end
  end
end
s:event(function(s)
  chatters[s] = true
  broadcast("someone joined")
  while true do
    local msg = s:read()
    if not msg then break end
    broadcast(msg:sub(1, 500))
  end
  chatters[s] = nil
  broadcast("someone left")
end, "s")
?>
