<?lsp
local s = ba.socket.req2sock(request)
if s then
  s:event(function(s)
    while true do
      local data, isText = s:read()
      if not data then break end
      s:write(data, isText)
    end
  end, "s")
end
?>
