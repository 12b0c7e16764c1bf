<?lsp
-- A Lua Server Page: `page` lives as long as this file, `app` as long as the app,
-- a session as long as the visitor keeps its cookie.
page.hits = (page.hits or 0) + 1
local s = request:session(true)  -- false when sessioncnt sessions are busy
local visits = 1
if s then
  s.visits = (s.visits or 0) + 1
  visits = s.visits
end
local name = request:data("name")
local function esc(text)
  return (text:gsub('[<>&"]', {["<"] = "&lt;", [">"] = "&gt;", ["&"] = "&amp;", ['"'] = "&quot;"}))
end
?><!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Hello from LSP</title><link rel="stylesheet" href="style.css"></head>
<body>
<h1>Hello<?lsp if name and #name > 0 then ?>, <?lsp= esc(name) ?><?lsp end ?></h1>
<p>This page has been served <?lsp= page.hits ?> times; you have seen it <?lsp= visits ?> times.</p>
<form method="get"><input name="name" placeholder="your name"> <button>Greet me</button></form>
<p>Server time: <?lsp= os.date("!%Y-%m-%d %H:%M:%S") ?> UTC, <?lsp= mako.version ?>.</p>
</body>
</html>
