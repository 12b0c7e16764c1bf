#!/usr/bin/env python3
"""The resource zip: lookup order (MAKO_ZIP, beside the executable, beside the conf, the
embedded copy), what a candidate must hold, and /rtl/ serving its public files."""
import os
import shutil
import zipfile

import harness
from harness import ServerTestCase, main, resource_core, write_file

BUILT = os.path.join(os.path.dirname(harness.REMORA), "remora.zip")


class ResourceZipTest(ServerTestCase):
    def setUp(self):
        self.saved_env = os.environ.get("MAKO_ZIP")
        self.saved_remora = harness.REMORA

    def tearDown(self):
        if self.saved_env is None:
            os.environ.pop("MAKO_ZIP", None)
        else:
            os.environ["MAKO_ZIP"] = self.saved_env
        harness.REMORA = self.saved_remora

    def lone_binary(self):
        """A copy of the binary in a directory of its own (no remora.zip beside it)."""
        d = self.tempdir()
        exe = os.path.join(d, "remora")
        shutil.copy2(self.saved_remora, exe)
        harness.REMORA = exe
        return d

    def test_zip_beside_the_executable(self):
        os.environ.pop("MAKO_ZIP", None)
        srv = self.start()
        self.assertIn("Mounting " + os.path.realpath(BUILT), srv.output())
        r = srv.get("/rtl/remora.txt")
        self.assertEqual(r.status, 200)
        self.assertIn(b"resource zip", r.body)
        self.assertEqual(srv.get("/rtl/.config").status, 404)      # dot files never served
        self.assertEqual(srv.get("/rtl/.openports").status, 404)

    def test_mako_zip_directory(self):
        d = self.tempdir()
        write_file(d, ".config", "return function() end, 1\n")
        for rel, text in resource_core().items():
            write_file(d, rel, text)
        write_file(d, "hello.txt", "from the unpacked tree")
        os.environ["MAKO_ZIP"] = d
        srv = self.start()
        self.assertIn("Mounting " + d, srv.output())
        self.assertEqual(srv.get("/rtl/hello.txt").body, b"from the unpacked tree")
        srv.stop()
        write_file(d, "hello.txt", "edited")  # edit and restart: no rebuild
        srv = self.start()
        self.assertEqual(srv.get("/rtl/hello.txt").body, b"edited")

    def test_mako_zip_without_config_falls_back(self):
        d = self.tempdir()
        write_file(d, "hello.txt", "x")
        os.environ["MAKO_ZIP"] = d
        srv = self.start()
        out = srv.output()
        self.assertIn(d + " is missing .config or .openports", out)
        self.assertIn("Mounting " + os.path.realpath(BUILT), out)
        self.assertEqual(srv.get("/rtl/hello.txt").status, 404)

    def test_zip_beside_the_conf(self):
        os.environ.pop("MAKO_ZIP", None)
        self.lone_binary()
        confdir = self.tempdir()
        with zipfile.ZipFile(os.path.join(confdir, "remora.zip"), "w") as z:
            z.writestr(".config", "return function() end, 1\n")
            for rel, text in resource_core().items():
                z.writestr(rel, text)
            z.writestr("conf-side.txt", "beside the conf")
        srv = self.start(tmpdir=confdir)
        self.assertIn("Mounting " + os.path.join(confdir, "remora.zip"), srv.output())
        self.assertEqual(srv.get("/rtl/conf-side.txt").body, b"beside the conf")

    def test_embedded_copy_when_nothing_else(self):
        os.environ.pop("MAKO_ZIP", None)
        d = self.lone_binary()
        write_file(d, "remora.zip", b"not a zip at all")  # broken: named, then skipped
        srv = self.start()
        out = srv.output()
        self.assertIn(os.path.join(d, "remora.zip"), out)
        self.assertIn("Mounting the embedded remora.zip", out)
        self.assertIn(b"resource zip", srv.get("/rtl/remora.txt").body)

    def test_rtlprio_and_an_app_at_rtl(self):
        os.environ.pop("MAKO_ZIP", None)
        app = self.tempdir()
        write_file(app, "remora.txt", "the app's own file")
        # an app named rtl at priority 200 wins over the resource zip at 127 ...
        srv = self.start(apps=["-lrtl:200:" + app])
        self.assertEqual(srv.get("/rtl/remora.txt").body, b"the app's own file")
        srv.stop()
        # ... and loses when rtlprio is higher
        srv = self.start(apps=["-lrtl:200:" + app], conf={"rtlprio": 300})
        self.assertIn(b"resource zip", srv.get("/rtl/remora.txt").body)


if __name__ == "__main__":
    main()
