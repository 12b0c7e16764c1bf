#!/usr/bin/env python3
"""Lua Server Pages over loopback: the page model (cmdEnv, page table, app, io), the
request/response methods, errors, include/forward, streaming, sleeping and preempted pages,
recompilation, sessions and cookies, and bad input."""
import json
import os
import re
import signal
import socket
import threading
import time

from harness import SharedServerTestCase, Server, ServerTestCase, main, write_file

PAGES = {
    ".preload": """foo = 'from preload'
local api = ba.create.dir("api")
api:setfunc(function(_ENV, rel)
  if rel == "skip" then return false end
  if rel == "boom" then error("dir function failed") end
  response:json{rel = rel, method = request:method(), base = api:baseuri()}
end)
dir:insert(api)
local top = ba.create.dir("top", 5)
top:setfunc(function(_ENV, rel) print("top:" .. rel, request:uri()) end)
top:insert()
apidir = api
local secure = ba.create.dir("secure")
secure:setfunc(function(_ENV, rel) print("never on plain http") end)
secure:redirect2tls()
secure:insert()
local prolog = ba.create.dir()
prolog:setfunc(function(_ENV, rel) if rel ~= "prolog.txt" then return false end print("from the prolog") end)
dir:insertprolog(prolog)
hidden = ba.create.dir("hidden")  -- never inserted: reached through dir:service
hidden:setfunc(function(_ENV, rel) if rel == "no" then return false end print("hidden:" .. rel) end)
""",
    "api/skip": "static behind the function dir",
    "delegate.lsp": """<?lsp local what = request:data("to")
if what == "func" then print(app.hidden:service(request, "/a/b"), app.hidden:service(request, "no"))
elseif what == "static" then print(app.dir:service(request, "static.txt"))
else print(app.dir:service(request, "target.lsp")) end ?>""",
    "prolog.txt": "the file itself",
    "mkdir.lsp": """<?lsp local d = ba.create.dir("dyn") d:setfunc(function(_ENV, rel) print("dyn " .. rel) end)
d:insert() app.dyn = d print("mounted") ?>""",
    "hello.lsp": "<?lsp page.n = (page.n or 0) + 1 ?>Hello <?lsp= page.n ?>\n",
    "model.lsp": """<?lsp
print(tostring(foo), app.foo, request == response, io:resourcetype(), pathname,
      type(_ENV.request), rawget(_ENV, "foo") == nil, getmetatable(_ENV).__index == _G,
      response:env() == _ENV)
?>""",
    "methods.lsp": """<?lsp
local t = request:header()
local n = 0 for _ in pairs(t) do n = n + 1 end
local ip, port, v6 = request:peername()
local lip, lport = request:sockname()
print(request:method(), request:uri(), request:url(), request:version(), request:header("x-test"),
      n > 2, ip, type(port), v6, lip, lport > 0, request:issecure(), request:domain(),
      request:header("nope"))
?>""",
    "data.lsp": """<?lsp
local d = request:data()
local a1, b1, z = request:data("a", "b", "z")
local all = {}
for k, v in request:datapairs() do all[#all + 1] = k .. "=" .. v end
print(d.a, d.b, d["sp ace"], a1, b1, z, table.concat(all, ","))
?>""",
    "count.lsp": """<?lsp local n = 0 for _ in request:datapairs() do n = n + 1 end print(n) ?>""",
    "status.lsp": """<?lsp
response:setstatus(201)
response:setheader("X-One", "1")
response:setheader("X-Gone", "x")
response:setheader("X-Gone", nil)
response:setcontenttype("text/plain")
print(response:setcontenttype("text/other", false), response:containsheader("x-one"),
      response:containsheader("x-gone"), response:getstatus())
response:setmaxage(60)
response:setdateheader("X-Date", 0)
?>""",
    "err.lsp": "before\n<?lsp local t = nil\nlocal x = t.field ?>after\n",
    "tagerr.lsp": "line1\n<?lsp print(1)\n",
    "inc.lsp": """A<?lsp response:include("sub/part.lsp") ?>C<?lsp response:include("static.txt") ?>""",
    "sub/part.lsp": """[<?lsp local yes, depth = response:isinclude() ?><?lsp= request:uri() ?>|<?lsp= tostring(yes) ?>|<?lsp= depth ?>|<?lsp= pathname ?>]""",
    "static.txt": "S",
    "fwd.lsp": """discarded<?lsp response:forward("target.lsp") ?>never""",
    "target.lsp": """T:<?lsp= tostring(response:isforward()) ?>:<?lsp= request:uri() ?>:<?lsp= tostring(response:initial()) ?>""",
    "badinc.lsp": """<?lsp response:include("nothere.lsp") ?>""",
    "incerr.lsp": """x<?lsp response:include("thrower.lsp") ?>""",
    "thrower.lsp": """<?lsp error("thrown in include") ?>""",
    "pcallinc.lsp": """<?lsp local ok, e = pcall(response.include, response, "nothere.lsp") print(ok, e) ?>""",
    "redir.lsp": """text<?lsp response:sendredirect("/elsewhere?x=1") ?>never""",
    "redir301.lsp": """<?lsp response:sendredirect("http://example.com/", true) ?>""",
    "redirrel.lsp": """<?lsp response:sendredirect("rel.lsp") ?>""",
    "senderr.lsp": """<?lsp response:senderror(404, "no such thing") ?>""",
    "json1.lsp": """junk<?lsp response:json{a = 1, b = "x"} print("never") ?>""",
    "json2.lsp": """<?lsp response:json({a = 1}, {b = 2}, true) assert(not pcall(response.write, response, "x")) ?>""",
    "abort.lsp": """kept<?lsp response:abort() ?>never""",
    "big.lsp": """<?lsp for i = 1, 3000 do print(string.rep("x", 50), i) end ?>""",
    "flush.lsp": """one<?lsp response:flush() print(response:committed())
print(pcall(response.setheader, response, "X-Late", "1")) ?>two""",
    "sleep.lsp": """<?lsp local t = ba.clock() ba.sleep(400) print(ba.clock() - t >= 390) ?>""",
    "loop.lsp": """<?lsp local i = 0 while true do i = i + 1 end ?>""",
    "checktime.lsp": """<?lsp request:checktime(1000) print("modified") ?>""",
    "allow.lsp": """<?lsp request:allow{"GET", "POST"} print("allowed") ?>""",
    "misc.lsp": """<?lsp
print(response:encodeurl("/a b/../c"), response:encoderedirecturl("x.lsp"), response:writesize(),
      response:bytecount(), response:getdata())
?>""",
    "reset.lsp": """gone<?lsp response:setheader("X-Keep", "1") response:reset("buffer") ?>kept""",
    "session.lsp": """<?lsp
local s = request:session(true)
s.count = (s.count or 0) + 1
print(s.count, s:id(true), type(s:id()), s:maxinactiveinterval(), s:peername(), #ba.sessions() > 0,
      pcall(function() s.id = 1 end))
?>""",
    "shortsession.lsp": """<?lsp local s = request:session(true) print(s:maxinactiveinterval(1), s:maxinactiveinterval(), s:id(true)) ?>""",
    "sessionbyid.lsp": """<?lsp local s = ba.session(tonumber(request:data("id"))) print(s and s:id(true) or tostring(s)) ?>""",
    "nosession.lsp": """<?lsp print(request:session()) ?>""",
    "endsession.lsp": """<?lsp local s = request:session() print(s and s:terminate()) ?>""",
    "cookie.lsp": """<?lsp
local c = response:createcookie("plain") c:value("a b;c") c:path("/") c:activate()
local p = response:createcookie("persist") p:value("1") p:maxage(3600) p:secure(true) p:httponly(true)
p:domain("example.com") p:comment("c") p:activate()
local q = response:createcookie("notsent") q:value("x")
local r = request:cookie("incoming")
print(r and r:value())
?>""",
    "delcookie.lsp": """<?lsp local c = request:cookie("old") c:delete() c:activate() ?>""",
    "expired.lsp": """<?lsp app.saved = request ?>ok""",
    "useexpired.lsp": """<?lsp local saved = app.saved print(saved:valid(), pcall(saved.method, saved)) ?>""",
    "write.lsp": """<?lsp print(response:write("a", 1, "b")) ?>""",
    "xhr.lsp": """<?lsp error("for xhr") ?>""",
    "raw.lsp": """<?lsp local parts = {} for chunk in request:rawrdr(4) do parts[#parts + 1] = chunk end
print(#parts, table.concat(parts)) ?>""",
    "rawform.lsp": """<?lsp print(pcall(request.rawrdr, request)) ?>""",
    "mp.lsp": """<?lsp
local out = {}
local ok, err = request:multipart{
  formdata = function(name, value) out[#out + 1] = "field " .. name .. "=" .. value end,
  beginfile = function(name, filename, ctype) out[#out + 1] = "file " .. name .. " " .. filename .. " " .. tostring(ctype) end,
  filedata = function(data) out[#out + 1] = "data " .. #data end,
  endmp = function() out[#out + 1] = "end" end,
  error = function(e) out[#out + 1] = "error " .. e end,
}
print(ok, err) print(table.concat(out, "|"))
?>""",
    "mpnotmp.lsp": """<?lsp print(pcall(request.multipart, request, {formdata = print})) ?>""",
    "defer.lsp": """<?lsp app.waiting = response:deferred() ?>""",
    "answer.lsp": """<?lsp
local d = app.waiting app.waiting = nil
print(d:valid(), d:setstatus(202), d:setheader("X-Deferred", "yes"))
d:write("answered ") d:write("later") d:close()
print(d:valid(), pcall(d.write, d, "x"))
?>""",
    "login.lsp": """<?lsp print(request:user()) print(request:login("alice")) print(request:login("bob")) print(request:user()) ?>""",
    "whoami.lsp": """<?lsp print(request:user()) ?>""",
    "logout.lsp": """<?lsp print(request:logout()) print(request:user()) ?>""",
    "errh.lsp": """<?lsp ba.seterrh(function(e) app.lasterr = e end) error("handled") ?>""",
    "lasterr.lsp": """<?lsp print(app.lasterr and app.lasterr:match("handled") or "none") ba.seterrh(nil) ?>""",
    "tracep.lsp": """<?lsp tracep(false, 5, "tracep-plain") tracep(true, 5, "tracep-line") tracep(false, 7, "tracep-hidden") ?>ok""",
    "iredir.lsp": """never<?lsp response:redirect("static.txt") ?>""",
    "iredirpage.lsp": """<?lsp response:redirect("/target.lsp?x=1") ?>""",
    "iredirloop.lsp": """<?lsp response:redirect("iredirloop.lsp") ?>""",
    "deflate.lsp": """<?lsp local x <close> = response:setresponse() for i = 1, 200 do response:write("compress me ") end ?>""",
    "deflatestr.lsp": """<?lsp local x = response:setresponse(true) response:write("abc") local z = x:finalize()
response:setcontenttype("application/octet-stream") response:write(z) ?>""",
    "filter.lsp": """<?lsp local got = {} local x = response:setresponse(function(d) got[#got + 1] = d == nil and "<nil>" or d:upper() end)
print("quiet") x:finalize() print(table.concat(got, "|")) ?>""",
    "tls.lsp": """<?lsp print(request:certificate(), request:cipher(), request:clientcert()) response:redirect2tls() ?>""",
    "methodnames.lsp": """<?lsp local t = {} for k in pairs(getmetatable(request).__index) do t[#t + 1] = k end
table.sort(t) print(table.concat(t, " ")) ?>""",
    "upload.lsp": """<?lsp
local up = ba.create.upload(io)
up(request, request:data("to") or "uploads", function(env, u) env.started = u:name() end,
  function(env, u) local d = u:response() d:write("stored ", env.started, " ", tostring(u:multipart())) d:close() end,
  function(env, u, e) local d = u:response() d:setstatus(500) d:write("failed ", e) d:close() end)
?>never""",
    "uploadnoanswer.lsp": """<?lsp ba.create.upload(io)(request, "x.bin", function() end, function() end, function() end) ?>""",
    "deferfixed.lsp": """<?lsp local d = response:deferred() d:setcontentlength(5) d:send("ab") d:send("cde") d:close() ?>""",
}


# The request/response methods of the reference (section d: baHttpCmdLib, 63 names).
REFERENCE_METHODS = """abort allow certificate cipher clientcert checktime cookie domain env header login logout
method session uri url user version issecure peername setnodelay sockname data datapairs multipart rawrdr bytecount
clearkeepalive committed containsheader createcookie downgrade encoderedirecturl encodeurl flush forward getdata
getstatus include initial isforward isinclude redirect redirect2tls reset send senderror sendredirect
setcontentlength setcontenttype setdateheader setdefaultheaders setheader setmaxage setresponse setstatus valid
write writesize json setbasic setdigest deferred""".split()


class LspTest(SharedServerTestCase):
    @classmethod
    def make_server(cls, base):
        cls.app = os.path.join(base, "app")
        for name, text in PAGES.items():
            write_file(cls.app, name, text)
        return Server(apps=["-l::" + cls.app], tmpdir=base)

    def get(self, path, headers=None, **kw):
        return self.srv.get(path, headers=headers, **kw)

    # ---- directory functions (ba.create.dir) ----
    def test_dir_function(self):
        r = self.get("/api/items/1")
        self.assertEqual(r.header("Content-Type"), "application/json")
        self.assertEqual(json.loads(r.body), {"rel": "items/1", "method": "GET", "base": "/api/"})
        self.assertEqual(self.get("/api/skip").body, b"static behind the function dir")  # returned false
        r = self.get("/api/boom")
        self.assertEqual(r.status, 500)
        self.assertIn(b"dir function failed", r.body)
        self.assertEqual(self.get("/top/a/b").body, b"top:a/b\t/top/a/b\n")
        self.assertEqual(self.get("/top").status, 302)

    def test_redirect2tls_and_insertprolog(self):
        r = self.get("/secure/x?y=1", headers={"Host": "h.example:8080"})
        self.assertEqual((r.status, r.header("Location")), (301, "https://h.example/secure/x?y=1"))
        self.assertEqual(self.get("/prolog.txt").body, b"from the prolog\n")
        self.assertEqual(self.get("/static.txt").body, b"S")  # the prolog passes the rest on

    def test_dir_service_delegates(self):
        self.assertEqual(self.get("/delegate.lsp?to=func").body, b"hidden:a/b\ntrue\tfalse\n")
        self.assertEqual(self.get("/delegate.lsp?to=static").body, b"Strue\n")
        self.assertEqual(self.get("/delegate.lsp?to=page").body, b"T:false:/delegate.lsp:truetrue\n")

    def test_page_changes_the_tree_while_served(self):
        self.assertEqual(self.get("/mkdir.lsp").body, b"mounted\n")  # no deadlock on the tree
        self.assertEqual(self.get("/dyn/x").body, b"dyn x\n")

    # ---- the page model ----
    def test_every_reference_method_exists(self):
        self.assertEqual(len(REFERENCE_METHODS), 63)
        names = set(self.get("/methodnames.lsp").body.decode().split())
        self.assertEqual(sorted(set(REFERENCE_METHODS) - names), [])
        self.assertEqual(sorted(names - set(REFERENCE_METHODS)), [])


    def test_hello_and_page_table(self):
        a = self.get("/hello.lsp").body
        b = self.get("/hello.lsp").body
        n = int(a.split()[1])
        self.assertEqual(a, b"Hello %d" % n)  # the newline after ?> is swallowed
        self.assertEqual(b, b"Hello %d" % (n + 1))

    def test_default_headers(self):
        r = self.get("/hello.lsp")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Content-Type"), "text/html; charset=utf-8")
        self.assertEqual(r.header("Cache-Control"), "no-store, no-cache, must-revalidate, max-age=0")
        self.assertEqual(r.header("X-Content-Type-Options"), "nosniff")
        self.assertIsNotNone(r.header("Content-Length"))

    def test_cmdenv_app_io(self):
        r = self.get("/model.lsp")
        self.assertEqual(r.body, b"nil\tfrom preload\ttrue\tdisk\tmodel.lsp\tuserdata\ttrue\ttrue\ttrue\n")

    def test_request_methods(self):
        r = self.get("/methods.lsp?q=1", headers={"X-Test": "yes", "Host": "Example.COM:8080"})
        f = r.body.decode().rstrip("\n").split("\t")
        self.assertEqual(f[:6], ["GET", "/methods.lsp", "http://Example.COM:8080/methods.lsp", "1.1", "yes", "true"])
        self.assertEqual(f[6:9], ["127.0.0.1", "number", "false"])
        self.assertEqual(f[9:13], ["127.0.0.1", "true", "false", "example.com"])
        self.assertEqual(f[13], "nil")

    def test_uri_is_decoded(self):
        r = self.get("/m%65thods.lsp")
        self.assertIn(b"\t/methods.lsp\t", r.body)

    def test_query_data(self):
        r = self.get("/data.lsp?a=1&b=x+y&a=2&sp%20ace=%41&z")
        self.assertEqual(r.body, b"2\tx y\tA\t1\tx y\t\ta=1,b=x y,a=2,sp ace=A,z=\n")

    def test_form_body_data(self):
        body = "a=q1&b=%E2%82%AC"
        r = self.srv.request("POST", "/data.lsp?a=0", body=body,
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(r.body.decode(), "q1\t\u20ac\tnil\t0\t\u20ac\tnil\ta=0,a=q1,b=\u20ac\n")

    def test_status_and_headers(self):
        r = self.get("/status.lsp")
        self.assertEqual(r.status, 201)
        self.assertEqual(r.header("X-One"), "1")
        self.assertIsNone(r.header("X-Gone"))
        self.assertEqual(r.header("Content-Type"), "text/plain")
        self.assertEqual(r.header("Cache-Control"), "max-age=60")
        self.assertEqual(r.header("X-Date"), "Thu, 01 Jan 1970 00:00:00 GMT")
        self.assertEqual(r.body, b"false\t1\tfalse\t201\n")

    def test_write_returns_count(self):
        self.assertEqual(self.get("/write.lsp").body, b"a1b3\n")

    # ---- errors ----
    def test_lua_error_500(self):
        r = self.get("/err.lsp")
        self.assertEqual(r.status, 500)
        self.assertEqual(r.header("Content-Type"), "text/plain")
        text = r.body.decode()
        self.assertTrue(text.startswith("\n\n-------- Lua error:\n"), text)
        self.assertIn("err.lsp:3: attempt to index a nil value (local 't')", text)
        self.assertIn("stack traceback:", text)
        self.assertNotIn("before", text)
        self.assertTrue(self.srv.wait_for(r"-------- Lua error in LSP: .*err\.lsp:3: attempt to index"))
        self.assertEqual(self.get("/hello.lsp").status, 200)  # still serving

    def test_lua_error_for_xhr_is_json(self):
        r = self.get("/xhr.lsp", headers={"X-Requested-With": "XMLHttpRequest"})
        self.assertEqual(r.status, 500)
        self.assertEqual(r.header("Content-Type"), "application/json")
        j = json.loads(r.body)
        self.assertEqual(j["error"], "lua")
        self.assertIn("for xhr", j["emsg"])

    def test_compile_error(self):
        r = self.get("/tagerr.lsp")
        self.assertEqual(r.status, 500)
        self.assertIn(b"start tag without end tag at line# 2", r.body)

    # ---- include / forward ----
    def test_include(self):
        r = self.get("/inc.lsp")
        self.assertEqual(r.body, b"A[/inc.lsp|true|1|sub/part.lsp]CS")

    def test_forward(self):
        r = self.get("/fwd.lsp")
        self.assertEqual(r.body, b"T:true:/fwd.lsp:false")

    def test_include_missing_and_throwing(self):
        r = self.get("/badinc.lsp")
        self.assertEqual(r.status, 500)
        self.assertIn(b"Error pagenotfound: nothere.lsp", r.body)
        r = self.get("/incerr.lsp")
        self.assertEqual(r.status, 500)
        self.assertIn(b"thrown in include", r.body)
        r = self.get("/pcallinc.lsp")
        self.assertEqual(r.status, 200)
        self.assertIn(b"false\t", r.body)
        self.assertIn(b"pagenotfound", r.body)

    # ---- answers that end the page ----
    def test_sendredirect(self):
        r = self.get("/redir.lsp", headers={"Host": "h.example"})
        self.assertEqual(r.status, 302)
        self.assertEqual(r.header("Location"), "http://h.example/elsewhere?x=1")  # made absolute, as BAS does
        self.assertNotIn(b"never", r.body)
        r = self.get("/redir301.lsp")
        self.assertEqual((r.status, r.header("Location")), (301, "http://example.com/"))
        r = self.get("/redirrel.lsp", headers={"Host": "h.example"})
        self.assertEqual(r.header("Location"), "http://h.example/rel.lsp")

    def test_senderror(self):
        r = self.get("/senderr.lsp")
        self.assertEqual(r.status, 404)
        self.assertEqual(r.body, b"<html><body><h1>404 Not Found</h1>no such thing<p>Remora (Posix)</p></body></html>")
        self.assertEqual(r.header("Connection"), "close")

    def test_json(self):
        r = self.get("/json1.lsp")
        self.assertEqual(r.header("Content-Type"), "application/json")
        self.assertEqual(json.loads(r.body), {"a": 1, "b": "x"})
        r = self.get("/json2.lsp")
        self.assertEqual(r.status, 200)
        self.assertEqual(json.loads(r.body), [{"a": 1}, {"b": 2}])  # the write after it failed

    def test_abort_keeps_output(self):
        self.assertEqual(self.get("/abort.lsp").body, b"kept")

    def test_reset_buffer(self):
        r = self.get("/reset.lsp")
        self.assertEqual((r.body, r.header("X-Keep")), (b"kept", "1"))

    def test_checktime(self):
        self.assertEqual(self.get("/checktime.lsp").body, b"modified\n")
        r = self.get("/checktime.lsp", headers={"If-Modified-Since": "Sun, 06 Nov 1994 08:49:37 GMT"})
        self.assertEqual(r.status, 304)
        r = self.get("/checktime.lsp", headers={"If-Modified-Since": "Thu, 01 Jan 1970 00:00:01 GMT"})
        self.assertEqual(r.status, 200)

    def test_allow(self):
        self.assertEqual(self.get("/allow.lsp").body, b"allowed\n")
        r = self.srv.request("PUT", "/allow.lsp", body="x")
        self.assertEqual(r.status, 405)
        self.assertEqual(r.header("Allow"), "GET, POST, HEAD, OPTIONS")
        r = self.srv.request("OPTIONS", "/allow.lsp")
        self.assertEqual((r.status, r.header("Allow"), r.body), (200, "GET, POST, HEAD, OPTIONS", b""))

    def test_misc(self):
        r = self.get("/misc.lsp", headers={"Host": "h"})
        self.assertEqual(r.body, b"/c\thttp://h/x.lsp\t8192\t0\t\n")

    def test_head_runs_page_without_body(self):
        r = self.srv.request("HEAD", "/hello.lsp")
        self.assertEqual((r.status, r.body), (200, b""))

    # ---- streaming, sleeping, preemption ----
    def test_big_output_is_chunked(self):
        r = self.get("/big.lsp")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Transfer-Encoding"), "chunked")
        lines = r.body.decode().splitlines()
        self.assertEqual(len(lines), 3000)
        self.assertEqual(lines[-1], "x" * 50 + "\t3000")

    def test_big_output_http10_is_close_delimited(self):
        c = self.srv.connect()
        c.send("GET /big.lsp HTTP/1.0\r\n\r\n")
        data = b""
        while True:
            chunk = c.sock.recv(65536)
            if not chunk:
                break
            data += chunk
        c.close()
        head, _, body = data.partition(b"\r\n\r\n")
        self.assertNotIn(b"chunked", head)
        self.assertEqual(len(body.splitlines()), 3000)

    def test_flush_commits(self):
        r = self.get("/flush.lsp")
        self.assertEqual(r.header("Transfer-Encoding"), "chunked")
        self.assertIsNone(r.header("X-Late"))
        self.assertEqual(r.body, b"onetrue\nfalse\tError iscommitted\ntwo")

    def test_sleep_does_not_block_others(self):
        out = {}
        t = threading.Thread(target=lambda: out.setdefault("r", self.get("/sleep.lsp")))
        t0 = time.monotonic()
        t.start()
        time.sleep(0.1)
        r = self.get("/static.txt")
        quick = time.monotonic() - t0
        t.join()
        self.assertEqual(r.body, b"S")
        self.assertLess(quick, 0.35)
        self.assertEqual(out["r"].body, b"true\n")

    def test_endless_page_does_not_stop_the_server(self):
        s = socket.create_connection(("127.0.0.1", self.srv.port))
        s.sendall(b"GET /loop.lsp HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.2)
        try:
            t0 = time.monotonic()
            self.assertEqual(self.get("/static.txt").body, b"S")
            self.assertEqual(self.get("/hello.lsp").status, 200)
            self.assertLess(time.monotonic() - t0, 2.0)
        finally:
            s.close()
        # nobody waits for it any more: the page is stopped at its next preemption
        self.assertTrue(self.srv.wait_for(r"LSP page loop\.lsp stopped: it was still running and the client has gone"))

    # ---- the request object outlives its request ----
    def test_expired_request_object(self):
        self.get("/expired.lsp")
        r = self.get("/useexpired.lsp")
        self.assertEqual(r.body, b"false\tfalse\trequest/response expired\n")

    # ---- sessions ----
    def test_session_lifecycle(self):
        r = self.get("/session.lsp")
        cookie = r.header("Set-Cookie")
        m = re.fullmatch(r"z9ZAqJtI=([0-9a-f]{24}); path=/; HttpOnly", cookie)
        self.assertIsNotNone(m, cookie)
        sid = m.group(1)
        f = r.body.decode().rstrip("\n").split("\t")
        self.assertEqual(f[:1] + f[2:7], ["1", "number", "1200", "127.0.0.1", "true", "false"])
        self.assertEqual(f[1], sid)
        self.assertIn("invalid session attribute", f[7])
        h = {"Cookie": "other=1; z9ZAqJtI=" + sid}
        r = self.get("/session.lsp", headers=h)
        self.assertIsNone(r.header("Set-Cookie"))
        self.assertEqual(r.body.split(b"\t")[0], b"2")
        self.assertTrue(self.get("/nosession.lsp", headers=h).body.startswith(b"remora.session"))
        self.assertEqual(self.get("/nosession.lsp").body, b"false\n")
        self.assertEqual(self.get("/endsession.lsp", headers=h).body, b"true\n")
        self.assertEqual(self.get("/nosession.lsp", headers=h).body, b"false\n")

    def test_session_expires(self):
        r = self.get("/shortsession.lsp")
        old, new, sid = r.body.decode().split()
        self.assertEqual((old, new), ("1200", "1"))
        self.assertEqual(self.get("/sessionbyid.lsp?id=%d" % int(sid[:8], 16)).body.decode().strip(), sid)
        time.sleep(2.2)  # past maxinactiveinterval
        self.assertEqual(self.get("/nosession.lsp", headers={"Cookie": "z9ZAqJtI=" + sid}).body, b"false\n")
        self.assertEqual(self.get("/sessionbyid.lsp?id=%d" % int(sid[:8], 16)).body, b"false\n")

    def test_forged_session_id(self):
        r = self.get("/nosession.lsp", headers={"Cookie": "z9ZAqJtI=000000010000000000000000"})
        self.assertEqual(r.body, b"false\n")

    def test_login_logout_user(self):
        r = self.get("/login.lsp")
        self.assertEqual(r.body, b"\ntrue\nalice\nalice\tnil\tlua\n")
        sid = re.search(r"z9ZAqJtI=([0-9a-f]{24})", r.header("Set-Cookie")).group(1)
        h = {"Cookie": "z9ZAqJtI=" + sid}
        self.assertEqual(self.get("/whoami.lsp", headers=h).body, b"alice\tnil\tlua\n")
        self.assertEqual(self.get("/logout.lsp", headers=h).body, b"true\n\n")
        self.assertEqual(self.get("/whoami.lsp", headers=h).body, b"\n")

    def test_seterrh_and_tracep(self):
        self.assertEqual(self.get("/errh.lsp").status, 500)
        self.assertEqual(self.get("/lasterr.lsp").body, b"handled\n")
        self.assertEqual(self.get("/tracep.lsp").body, b"ok")
        self.assertTrue(self.srv.wait_for(r"^tracep-plain$"))
        self.assertTrue(self.srv.wait_for(r"^ \d+: tracep-line$"))
        self.assertNotIn("tracep-hidden", self.srv.output())

    def test_internal_redirect(self):
        r = self.get("/iredir.lsp")
        self.assertEqual((r.status, r.body), (200, b"S"))
        r = self.get("/iredirpage.lsp")
        self.assertEqual(r.body, b"T:false:/target.lsp:true")  # a redirect is not a forward
        self.assertEqual(self.get("/iredirloop.lsp").status, 500)

    def test_setresponse(self):
        import zlib
        r = self.get("/deflate.lsp")
        self.assertEqual(r.header("Content-Encoding"), "deflate")
        self.assertEqual(zlib.decompress(r.body, -15), b"compress me " * 200)
        r = self.get("/deflatestr.lsp")
        self.assertEqual(zlib.decompress(r.body), b"abc")
        r = self.get("/filter.lsp")
        self.assertEqual(r.body, b"QUIET\n|<nil>\n")

    def test_plain_connection_tls_methods(self):
        r = self.get("/tls.lsp?a=1", headers={"Host": "secure.example"})
        self.assertEqual((r.status, r.header("Location")), (301, "https://secure.example/tls.lsp?a=1"))
        r = self.get("/tls.lsp", headers={"Host": "secure.example:8080"})
        self.assertEqual(r.status, 403)
        self.assertIn(b"a secure connection is required", r.body)

    # ---- cookies ----
    def test_cookies(self):
        r = self.get("/cookie.lsp", headers={"Cookie": "incoming=hello%20there"})
        cookies = [v for k, v in r.header_list if k.lower() == "set-cookie"]
        self.assertEqual(len(cookies), 2, cookies)
        self.assertEqual(cookies[0], "plain=a%20b%3Bc; path=/")
        self.assertRegex(cookies[1], r"^persist=1; domain=example.com; expires=\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT; secure; HttpOnly; comment=c$")
        self.assertEqual(r.body, b"hello there\n")
        r = self.get("/delcookie.lsp", headers={"Cookie": "old=1"})
        self.assertEqual(r.header("Set-Cookie"), "old=1; expires=Thu, 01 Jan 1970 00:00:00 GMT")

    # ---- the body ----
    def test_rawrdr(self):
        r = self.srv.request("POST", "/raw.lsp", body=b"0123456789", headers={"Content-Type": "application/octet-stream"})
        self.assertEqual(r.body, b"3\t0123456789\n")
        r = self.srv.request("POST", "/rawform.lsp", body=b"a=1",
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertIn(b"false\t", r.body)
        self.assertIn(b"URL encoded data", r.body)

    def multipart_body(self, boundary="XyZ"):
        body = ("--{b}\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nhello world\r\n"
                "--{b}\r\nContent-Disposition: form-data; name=\"up\"; filename=\"a.bin\"\r\n"
                "Content-Type: application/octet-stream\r\n\r\n").format(b=boundary).encode()
        body += bytes(range(256)) * 40 + b"\r\n--" + boundary.encode() + b"--\r\n"
        return body

    def test_multipart(self):
        r = self.srv.request("POST", "/mp.lsp", body=self.multipart_body(),
                             headers={"Content-Type": "multipart/form-data; boundary=XyZ"})
        ok, events = r.body.decode().split("\n")[:2]
        self.assertEqual(ok, "true\tnil")
        ev = events.split("|")
        self.assertEqual(ev[0], "field title=hello world")
        self.assertEqual(ev[1], "file up a.bin application/octet-stream")
        self.assertEqual(sum(int(e.split()[1]) for e in ev if e.startswith("data ")), 256 * 40)
        self.assertEqual(ev[-1], "end")

    def test_multipart_broken_and_wrong_type(self):
        body = self.multipart_body()[:-10]  # no closing boundary
        r = self.srv.request("POST", "/mp.lsp", body=body, headers={"Content-Type": "multipart/form-data; boundary=XyZ"})
        first, events = r.body.decode().split("\n")[:2]
        self.assertEqual(first, "nil\tOperation failed")
        self.assertTrue(events.endswith("error Multipart parse error"), events)
        r = self.srv.request("POST", "/mpnotmp.lsp", body="x", headers={"Content-Type": "text/plain"})
        self.assertIn(b"Not multipart", r.body)

    # ---- uploads ----
    def test_upload_put_and_multipart(self):
        r = self.srv.request("PUT", "/upload.lsp?to=put.bin", body=b"\x00\x01payload")
        self.assertEqual((r.status, r.body), (200, b"stored put.bin false"))
        with open(os.path.join(self.app, "put.bin"), "rb") as f:
            self.assertEqual(f.read(), b"\x00\x01payload")
        os.makedirs(os.path.join(self.app, "uploads"), exist_ok=True)
        r = self.srv.request("POST", "/upload.lsp", body=self.multipart_body(),
                             headers={"Content-Type": "multipart/form-data; boundary=XyZ"})
        self.assertEqual((r.status, r.body), (200, b"stored uploads true"))
        with open(os.path.join(self.app, "uploads", "a.bin"), "rb") as f:
            self.assertEqual(f.read(), bytes(range(256)) * 40)

    def test_upload_errors(self):
        r = self.srv.request("PUT", "/upload.lsp?to=nodir/x.bin", body=b"x")
        self.assertEqual(r.status, 500)
        self.assertTrue(r.body.startswith(b"failed "), r.body)
        r = self.srv.request("PUT", "/uploadnoanswer.lsp", body=b"x")
        self.assertEqual((r.status, r.body), (500, b"No response in Lua callbacks"))
        r = self.srv.request("GET", "/upload.lsp")
        self.assertEqual(r.status, 500)
        self.assertIn(b"Invalid PUT or multipart POST", r.body)

    # ---- deferred responses ----
    def test_deferred_answered_by_another_request(self):
        c = self.srv.connect()
        c.send("GET /defer.lsp HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.3)
        r = self.get("/answer.lsp")
        self.assertEqual(r.body, b"true\ttrue\ttrue\nfalse\tfalse\texpired\n")
        resp = c.read_response()
        c.close()
        self.assertEqual(resp.status, 202)
        self.assertEqual(resp.header("X-Deferred"), "yes")
        self.assertEqual(resp.body, b"answered later")

    def test_deferred_fixed_length(self):
        r = self.get("/deferfixed.lsp")
        self.assertEqual((r.status, r.body, r.header("Content-Length")), (200, b"abcde", "5"))

    # ---- bad input ----
    def test_huge_query_string(self):
        q = "&".join("k%d=%d" % (i, i) for i in range(600))
        r = self.get("/count.lsp?" + q)
        self.assertEqual(r.body, b"600\n")
        q = "&".join("k=v" for _ in range(5000))  # over the 1024-pair cap: the rest are dropped
        r = self.get("/count.lsp?" + q[:7000])
        self.assertEqual(r.status, 200)

    def test_huge_form_body(self):
        body = "&".join("k%d=%s" % (i, "v" * 50) for i in range(20000))  # about 1.2 MB
        r = self.srv.request("POST", "/count.lsp", body=body,
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual((r.status, r.body), (200, b"1024\n"))  # the pair cap
        self.assertEqual(self.get("/hello.lsp").status, 200)

    def test_malformed_escapes_and_invalid_utf8(self):
        r = self.get("/data.lsp?a=%zz&b=%ff%fe&%=x")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.body.startswith(b"%zz\t\xff\xfe\t"), r.body)

    def test_recompiles_on_change_and_keeps_page_table(self):
        path = os.path.join(self.app, "edit.lsp")
        write_file(self.app, "edit.lsp", "<?lsp page.n = (page.n or 0) + 1 ?>v1 <?lsp= page.n ?>")
        self.assertEqual(self.get("/edit.lsp").body, b"v1 1")
        self.assertEqual(self.get("/edit.lsp").body, b"v1 2")
        write_file(self.app, "edit.lsp", "<?lsp page.n = (page.n or 0) + 1 ?>version2 <?lsp= page.n ?>")
        os.utime(path, (time.time() + 5, time.time() + 5))
        time.sleep(1.1)  # where a path leads is looked up again at most once a second
        self.assertEqual(self.get("/edit.lsp").body, b"version2 3")


class ExampleAppTest(ServerTestCase):
    def test_bundled_example_app(self):
        www = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples", "www")
        srv = self.start(apps=["-l::" + www])
        self.assertIn(b"hello.lsp", srv.get("/").body)
        r = srv.get("/hello.lsp?name=%3Cb%3EAda")
        self.assertEqual(r.status, 200)
        self.assertIn(b"<h1>Hello, &lt;b&gt;Ada</h1>", r.body)
        cookie = r.header("Set-Cookie").split(";")[0]
        r = srv.get("/hello.lsp", headers={"Cookie": cookie})
        self.assertIn(b"served 2 times; you have seen it 2 times", r.body)


class GracefulStopTest(ServerTestCase):
    def test_sigterm_lets_answers_finish(self):
        app = self.tempdir()
        write_file(app, "slow.lsp", "<?lsp ba.sleep(800) print('finished') ?>")
        srv = Server(apps=["-l::" + app])
        try:
            c = srv.connect()
            c.send("GET /slow.lsp HTTP/1.1\r\nHost: x\r\n\r\n")
            idle = srv.connect()  # between requests: closed at once
            time.sleep(0.2)
            srv.proc.send_signal(signal.SIGTERM)
            r = c.read_response()
            self.assertEqual((r.status, r.body), (200, b"finished\n"))
            self.assertEqual(r.header("Connection"), "close")
            self.assertEqual(idle.sock.recv(10), b"")
            self.assertEqual(srv.proc.wait(timeout=10), 0)
            c.close()
            idle.close()
        finally:
            srv.kill()

    def test_second_signal_stops_at_once(self):
        app = self.tempdir()
        write_file(app, "long.lsp", "<?lsp ba.sleep(30000) print('never') ?>")
        srv = Server(apps=["-l::" + app])
        try:
            c = srv.connect()
            c.send("GET /long.lsp HTTP/1.1\r\nHost: x\r\n\r\n")
            time.sleep(0.2)
            t0 = time.monotonic()
            srv.proc.send_signal(signal.SIGTERM)
            time.sleep(0.3)
            self.assertIsNone(srv.proc.poll())  # still draining
            srv.proc.send_signal(signal.SIGTERM)
            self.assertEqual(srv.proc.wait(timeout=10), 0)
            self.assertLess(time.monotonic() - t0, 3)
            self.assertTrue(srv.wait_for(r"Got SIGTERM again; exiting"))
            c.close()
        finally:
            srv.kill()


class LspLimitsTest(ServerTestCase):
    def test_session_flood_beyond_sessioncnt(self):
        app = self.tempdir()
        write_file(app, "s.lsp", "<?lsp local s = request:session(true) print(s and 'yes' or 'no', #ba.sessions()) ?>")
        write_file(app, "locked.lsp", "<?lsp local s = request:session(true) if s then s:lock() keep = keep or {} keep[#keep+1] = s end print(s and 'yes' or 'no') ?>")
        srv = self.start(apps=["-l::" + app], conf={"sessioncnt": 3})
        for _ in range(10):
            r = srv.get("/s.lsp")
            self.assertEqual(r.status, 200)
            yes, count = r.body.split()
            self.assertEqual(yes, b"yes")
            self.assertLessEqual(int(count), 3)
        # locked sessions cannot be evicted: past the limit, creation fails
        answers = [srv.get("/locked.lsp").body for _ in range(5)]
        self.assertEqual(answers[:3], [b"yes\n"] * 3)
        self.assertEqual(answers[3:], [b"no\n"] * 2)

    def test_rspsz_sets_the_chunking_threshold(self):
        app = self.tempdir()
        write_file(app, "p.lsp", "<?lsp response:write(string.rep('y', 3000)) ?>")
        srv = self.start(apps=["-l::" + app], conf={"rspsz": 2048})
        r = srv.get("/p.lsp")
        self.assertEqual(r.header("Transfer-Encoding"), "chunked")
        self.assertEqual(r.body, b"y" * 3000)


if __name__ == "__main__":
    main()
