#!/usr/bin/env python3
"""Drive headless Chromium over the DevTools protocol (--remote-debugging-pipe,
so no websocket library is needed) through a list of steps, like a person at
the keyboard: the pages themselves need no JavaScript; the driver fills and
submits their forms.

    drive.py OUTDIR STEP ...
    STEP: goto=URL | fill=SELECTOR=VALUE | click=SELECTOR | shot=NAME |
          expect=TEXT | reject=TEXT
Exit 0 when every step passed, 1 on the first failure (said on stderr).
"""
import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time

TIMEOUT = 30.0


class Browser:
    def __init__(self, profile):
        r_chrome, w_ours = os.pipe()     # we write commands -> chrome reads fd 3
        r_ours, w_chrome = os.pipe()     # chrome writes fd 4 -> we read
        exe = shutil.which("chromium") or "/usr/bin/chromium"

        # Chromium reads commands on fd 3 and writes answers on fd 4: move
        # the pipe ends out of the way first so that dup2 cannot clobber one.
        hi_r = fcntl.fcntl(r_chrome, fcntl.F_DUPFD, 20)
        hi_w = fcntl.fcntl(w_chrome, fcntl.F_DUPFD, 20)
        os.close(r_chrome)
        os.close(w_chrome)
        r_chrome, w_chrome = hi_r, hi_w

        def fds():
            os.dup2(r_chrome, 3)
            os.dup2(w_chrome, 4)

        self.p = subprocess.Popen(
            [exe, "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--no-first-run", "--disable-extensions",
             "--disable-dev-shm-usage", "--hide-scrollbars",
             "--user-data-dir=" + profile, "--remote-debugging-pipe",
             "--window-size=1280,900", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(profile, "chromium.log"), "wb"),
            preexec_fn=fds, pass_fds=(3, 4, r_chrome, w_chrome))
        os.close(r_chrome)
        os.close(w_chrome)
        self.w = os.fdopen(w_ours, "wb", buffering=0)
        self.r = os.fdopen(r_ours, "rb", buffering=0)
        self.buf = b""
        self.n = 0
        self.events = []
        self.session = None

    def _read_msg(self, deadline):
        while b"\0" not in self.buf:
            if time.monotonic() > deadline:
                raise TimeoutError("no answer from chromium")
            left = deadline - time.monotonic()
            if not select.select([self.r], [], [], max(0.0, left))[0]:
                continue
            chunk = self.r.read(65536)
            if not chunk:
                raise EOFError("chromium went away")
            self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, params=None, session=True):
        self.n += 1
        m = {"id": self.n, "method": method, "params": params or {}}
        if session and self.session:
            m["sessionId"] = self.session
        self.w.write(json.dumps(m).encode() + b"\0")
        deadline = time.monotonic() + TIMEOUT
        while True:
            a = self._read_msg(deadline)
            if a.get("id") == self.n:
                if "error" in a:
                    raise RuntimeError("%s: %s" % (method, a["error"]))
                return a.get("result", {})
            self.events.append(a)

    def wait_event(self, name):
        deadline = time.monotonic() + TIMEOUT
        while True:
            for i, e in enumerate(self.events):
                if e.get("method") == name:
                    del self.events[:i + 1]
                    return e
            self.events.append(self._read_msg(deadline))

    def eval(self, expr):
        r = self.call("Runtime.evaluate", {"expression": expr, "returnByValue": True})
        if "exceptionDetails" in r:
            raise RuntimeError("script failed: %s" % r["exceptionDetails"].get("text"))
        return r.get("result", {}).get("value")

    def close(self):
        try:
            self.call("Browser.close", session=False)
        except Exception:
            pass
        try:
            self.p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


def main():
    if len(sys.argv) < 3:
        print("usage: drive.py OUTDIR STEP ...", file=sys.stderr)
        return 100
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    profile = tempfile.mkdtemp(prefix="chromium-")
    b = Browser(profile)
    rc = 0
    try:
        t = b.call("Target.createTarget", {"url": "about:blank"}, session=False)
        s = b.call("Target.attachToTarget", {"targetId": t["targetId"], "flatten": True},
                   session=False)
        b.session = s["sessionId"]
        b.call("Page.enable")
        b.call("Emulation.setDeviceMetricsOverride",
               {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False})
        for step in sys.argv[2:]:
            kind, _, arg = step.partition("=")
            if kind == "goto":
                b.events.clear()
                b.call("Page.navigate", {"url": arg})
                b.wait_event("Page.loadEventFired")
            elif kind == "fill":
                sel, _, val = arg.rpartition("=")
                ok = b.eval("(function(){var e=document.querySelector(%s);"
                            "if(!e)return false;e.value=%s;return true})()"
                            % (json.dumps(sel), json.dumps(val)))
                if not ok:
                    raise RuntimeError("no field " + sel)
            elif kind == "click":
                b.events.clear()
                ok = b.eval("(function(){var e=document.querySelector(%s);"
                            "if(!e)return false;e.click();return true})()" % json.dumps(arg))
                if not ok:
                    raise RuntimeError("nothing to click at " + arg)
                b.wait_event("Page.loadEventFired")
            elif kind == "shot":
                h = b.eval("Math.min(4000, Math.max(900, document.documentElement.scrollHeight))")
                b.call("Emulation.setDeviceMetricsOverride",
                       {"width": 1280, "height": int(h), "deviceScaleFactor": 1, "mobile": False})
                png = b.call("Page.captureScreenshot", {"format": "png"})["data"]
                with open(os.path.join(out, arg + ".png"), "wb") as f:
                    f.write(base64.b64decode(png))
                b.call("Emulation.setDeviceMetricsOverride",
                       {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False})
            elif kind in ("expect", "reject"):
                text = b.eval("document.body ? document.body.innerText : ''") or ""
                if (arg in text) != (kind == "expect"):
                    url = b.eval("location.href")
                    raise RuntimeError("%s %r failed on %s; the page says:\n%s"
                                       % (kind, arg, url, text[:1500]))
            else:
                raise RuntimeError("unknown step " + step)
            print("ok " + step.split("=", 1)[0] + " " + (arg if kind != "fill" else
                  arg.rpartition("=")[0]), flush=True)
    except Exception as e:
        print("drive.py: %s" % e, file=sys.stderr)
        rc = 1
    finally:
        b.close()
        shutil.rmtree(profile, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
