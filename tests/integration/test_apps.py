#!/usr/bin/env python3
"""The application model run by the resource zip's .config: .preload in {io, dir, app},
onunload at exit and on stop, failing .preload, mako.createloader, mako.conf's apps, the
mako.* app functions, and the security headers."""
import os
import zipfile

from harness import ServerTestCase, main, resource_core, write_file


class AppsTest(ServerTestCase):
    def test_preload_environment(self):
        app = self.tempdir()
        write_file(app, "index.html", "hi")
        write_file(app, ".preload", """
local f = assert(io:open("preload.txt", "w"))   -- io is the app's IO, not Lua's library
f:write(dir:baseuri(), "|", tostring(app == _ENV), "|", type(_G.io.write), "|", tostring(io:resourcetype()))
f:close()
greeting = "set in .preload"
assert(app.greeting == greeting)
""")
        srv = self.start(apps=["-lmyapp::" + app])
        self.assertIn('Loading %s as "myapp" : ok' % app, srv.output())
        with open(os.path.join(app, "preload.txt")) as f:
            self.assertEqual(f.read(), "/myapp/|true|function|disk")
        r = srv.get("/myapp/")
        self.assertEqual(r.body, b"hi")
        self.assertEqual(r.header("X-Content-Type-Options"), "nosniff")
        self.assertEqual(r.header("X-XSS-Protection"), "1; mode=block")

    def test_missing_preload_is_reported(self):
        app = self.tempdir()
        srv = self.start(apps=["-l::" + app])
        self.assertIn("Info: %s/.preload not found" % os.path.realpath(app), srv.output())

    def test_onunload_runs_at_exit(self):
        app = self.tempdir()
        write_file(app, ".preload", """
function onunload()
  local f = io:open("unloaded.txt", "w"); f:write("bye"); f:close()
end
""")
        srv = self.start(apps=["-l::" + app])
        self.assertFalse(os.path.exists(os.path.join(app, "unloaded.txt")))
        srv.stop()
        with open(os.path.join(app, "unloaded.txt")) as f:
            self.assertEqual(f.read(), "bye")

    def test_failing_preload(self):
        bad, good = self.tempdir(), self.tempdir()
        write_file(bad, "x.txt", "never served")
        write_file(bad, ".preload", "local a = 1\nerror('preload exploded')\n")
        write_file(good, "x.txt", "good")
        srv = self.start(apps=["-lbad::" + bad, "-lgood::" + good])
        self.assertRegex(srv.output(), r'Loading .* as "bad" : failed: .*preload exploded')
        self.assertEqual(srv.get("/bad/x.txt").status, 404)
        self.assertEqual(srv.get("/good/x.txt").body, b"good")
        syntax = self.tempdir()
        write_file(syntax, ".preload", "x = = 1\n")
        srv2 = self.start(apps=["-l::" + syntax])
        self.assertRegex(srv2.output(), r'as "root application" : failed: .*\.preload:1:')

    def test_createloader_in_a_directory_and_a_zip(self):
        app = self.tempdir()
        write_file(app, ".lua/mymod.lua", "return {answer = 42}")
        write_file(app, ".lua/pkg/sub.lua", "return {name = 'sub'}")
        write_file(app, ".preload", """
local ok = pcall(require, "mymod")
assert(not ok, "found before createloader")
mako.createloader(io)
local m = require"mymod"
local s = require"pkg.sub"
local f = io:open("req.txt", "w"); f:write(m.answer, s.name); f:close()
""")
        self.start(apps=["-l::" + app])
        with open(os.path.join(app, "req.txt")) as f:
            self.assertEqual(f.read(), "42sub")
        out = self.tempdir()
        z = os.path.join(out, "zapp.zip")
        with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(".lua/zmod.lua", "return 'from the zip'")
            zf.writestr(".preload", "mako.createloader(io)\nlocal h = ba.openio('home')\n"
                                    "local f = h:open('zip.txt', 'w'); f:write((require'zmod')); f:close()\n")
        self.start(apps=["-lz::" + z], tmpdir=out)
        with open(os.path.join(out, "zip.txt")) as f:
            self.assertEqual(f.read(), "from the zip")

    def test_conf_apps_table(self):
        a, b = self.tempdir(), self.tempdir()
        write_file(a, "f.txt", "from a")
        write_file(b, "f.txt", "from b")
        conf = 'port=%d\nhost="127.0.0.1"\napps={ "%s", {name="bee", prio=2, path="%s"} }\nmyparam="custom"\n'
        from harness import free_port
        srv = self.start(conf_text=conf % (free_port(), a, b))
        srv.wait_for(r'as "bee" : ok')
        self.assertEqual(srv.get("/%s/f.txt" % os.path.basename(a)).body, b"from a")
        self.assertEqual(srv.get("/bee/f.txt").body, b"from b")

    def test_app_functions(self):
        one, two = self.tempdir(), self.tempdir()
        write_file(one, "x.txt", "one")
        write_file(one, ".preload", "function onunload() local f = io:open('stopped.txt','w'); f:write('1'); f:close() end\n")
        write_file(two, ".preload", """
local apps = mako.getapps()
local f = io:open("apps.txt", "w"); f:write(#apps, "|", apps[1]); f:close()
assert(mako.stopapp(1))
local ok, err = mako.stopapp(1)
assert(ok == false and err == "Already stopped")
assert(not pcall(mako.stopapp, 99))
""")
        srv = self.start(apps=["-lone::" + one, "-ltwo::" + two])
        with open(os.path.join(two, "apps.txt")) as f:
            self.assertEqual(f.read(), "1|" + one)
        self.assertTrue(os.path.exists(os.path.join(one, "stopped.txt")))
        self.assertEqual(srv.get("/one/x.txt").status, 404)

    def test_apps_inside_the_resource_zip(self):
        zipdir = self.tempdir()  # an unpacked resource zip, through MAKO_ZIP
        with open(os.path.join(os.path.dirname(__file__), "../../lua/.config")) as f:
            write_file(zipdir, ".config", f.read())
        for rel, text in resource_core().items():
            write_file(zipdir, rel, text)
        write_file(zipdir, "apps/shop/index.html", "shop")               # named by its directory
        write_file(zipdir, "apps/ui/.config", 'return {name = "", prio = 5}')  # the root app
        write_file(zipdir, "apps/ui/index.html", "ui root")
        write_file(zipdir, "apps/internal/secret.txt", "internal")
        write_file(zipdir, "apps/internal/.preload",
                   "dir:unlink()\nlocal f = ba.openio('home'):open('internal.txt', 'w'); f:write(io:open('secret.txt'):read('a')); f:close()\n")
        home = self.tempdir()
        saved = os.environ.get("MAKO_ZIP")
        os.environ["MAKO_ZIP"] = zipdir
        try:
            srv = self.start(tmpdir=home)
        finally:
            if saved is None:
                os.environ.pop("MAKO_ZIP")
            else:
                os.environ["MAKO_ZIP"] = saved
        srv.wait_for(r'as "shop" : ok')
        self.assertEqual(srv.get("/shop/").body, b"shop")
        self.assertEqual(srv.get("/").body, b"ui root")
        self.assertEqual(srv.get("/internal/secret.txt").status, 404)  # loaded, not reachable
        with open(os.path.join(home, "internal.txt")) as f:
            self.assertEqual(f.read(), "internal")

    def test_start_reload_remove(self):
        one, ctl = self.tempdir(), self.tempdir()
        write_file(one, "x.txt", "one")
        write_file(one, ".preload", "local f = io:open('count.txt', 'a'); f:write('p'); f:close()\n")
        write_file(ctl, ".preload", """
assert(mako.stopapp(1))
assert(mako.startapp(1))
local ok, err = mako.startapp(1)
assert(ok == false and err == "Already running")
assert(mako.reloadapp(1))
assert(mako.removeapp(1))
assert(#mako.getapps() == 0)  -- this app is registered once its .preload succeeds
""")
        srv = self.start(apps=["-lone::" + one, "-lctl::" + ctl])
        self.assertIn('as "ctl" : ok', srv.output())
        with open(os.path.join(one, "count.txt")) as f:
            self.assertEqual(f.read(), "ppp")  # load, start, reload
        self.assertEqual(srv.get("/one/x.txt").status, 404)  # removed (stopped first)


if __name__ == "__main__":
    main()
