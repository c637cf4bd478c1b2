# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.

"""A real systemd, PID 1 of a container, to run the shipped unit under.

A minimal Debian root (``debootstrap --variant=minbase`` with systemd,
built once into ``$TACHYON_CACHE_DIR/systemd-root``, ``~/.cache/tachyon``
by default, about four minutes) is booted with ``systemd-nspawn --boot
--volatile=overlay``: every write lands in a throw-away overlay, the host's
network is shared (the test's Neo4j and RabbitMQ on 127.0.0.1 are
reachable). The Tachyon under test, its virtualenv and its Python are
bound read-only into the container at the paths they have on the host,
but for the Python and its site-packages, which may live under ``/root``
(CI's do) where systemd's ``ProtectHome=`` hides them: those are at
``/opt/python`` and ``/opt/site-packages``;
``/usr/local/bin/tachyon-engine`` runs it as a pip-installed console
script would. Commands run inside through
``nsenter`` into the container's namespaces.

Needs root and Debian's ``systemd-container`` and ``debootstrap``
packages (``.ci/run`` installs them).
"""

import fcntl
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import time

import fixtures

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
SUITE = 'bookworm'
MIRROR = 'http://deb.debian.org/debian'
PACKAGES = 'systemd,systemd-sysv,dbus'
CACHE = os.environ.get('TACHYON_CACHE_DIR') or os.path.expanduser(
    '~/.cache/tachyon')
ROOT = os.path.join(CACHE, 'systemd-root', SUITE)
#: Where the host's site-packages is seen in the container.
SITE = '/opt/site-packages'
#: What the container needs on the host, and the Debian package of each.
TOOLS = (('systemd-nspawn', 'systemd-container'),
         ('debootstrap', 'debootstrap'), ('nsenter', 'util-linux'))

WRAPPER = """#!/bin/sh
# tachyon-engine as a console script of the bound virtualenv would run it.
LD_LIBRARY_PATH=/opt/python/lib exec /opt/python/bin/python3 -c '
import site, sys
site.addsitedir(%(site)s)
sys.path.insert(0, %(repo)s)
sys.argv[0] = "tachyon-engine"
from tachyon.cmd.engine import main
sys.exit(main())' "$@"
"""


def missing_tools():
    return sorted({package for tool, package in TOOLS
                   if shutil.which(tool) is None})


def build_root():
    """The cached root file system, made on first use (under a lock)."""
    os.makedirs(os.path.dirname(ROOT), exist_ok=True)
    with open(ROOT + '.lock', 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.exists(os.path.join(ROOT, 'usr/lib/systemd/systemd')):
            return ROOT
        partial = ROOT + '.partial'
        shutil.rmtree(partial, ignore_errors=True)
        subprocess.run(
            ['debootstrap', '--variant=minbase', '--include=' + PACKAGES,
             SUITE, partial, MIRROR], check=True, capture_output=True,
            timeout=1200)
        os.rename(partial, ROOT)
    return ROOT


class Container(fixtures.Fixture):
    """systemd booted in a container; ``files`` bound in read-only.

    ``files``: {path in the container: text}, written to a directory of
    the test and bound one by one (directories are made as needed);
    ``/usr/local/bin/tachyon-engine`` is always among them.
    """

    def __init__(self, files):
        super().__init__()
        self.files = dict(files)

    def _setUp(self):
        missing = missing_tools()
        if missing:
            raise AssertionError(
                'the systemd container needs Debian packages %s: '
                'apt-get install %s (.ci/run does)'
                % (', '.join(missing), ' '.join(missing)))
        root = build_root()
        # One container on the root at a time: nspawn locks it.
        self._lock = open(ROOT + '.boot-lock', 'w')
        fcntl.flock(self._lock, fcntl.LOCK_EX)
        self.addCleanup(self._lock.close)
        tmp = self.useFixture(fixtures.TempDir()).path
        os.chmod(tmp, 0o755)
        python = os.path.realpath(sys.base_prefix)
        site = sysconfig.get_paths()['purelib']
        files = dict(self.files)
        binds = ['--bind-ro=%s:/opt/python' % python,
                 '--bind-ro=%s' % REPO]
        if not os.path.realpath(site).startswith(REPO + os.sep):
            # Where a package would be installed: not under a home
            # directory, which the unit's ProtectHome= hides (CI's Python
            # lives in /root).
            binds.append('--bind-ro=%s:%s' % (site, SITE))
            site = SITE
        # JSON strings: double quotes, inside the script's single ones.
        files['/usr/local/bin/tachyon-engine'] = WRAPPER % {
            'site': json.dumps(site), 'repo': json.dumps(REPO)}
        for index, (path, text) in enumerate(sorted(files.items())):
            source = os.path.join(tmp, '%d-%s' % (index,
                                                  os.path.basename(path)))
            with open(source, 'w') as out:
                out.write(text)
            os.chmod(source, 0o755 if '/bin/' in path else 0o644)
            binds.append('--bind-ro=%s:%s' % (source, path))
        self.name = 'tachyon-test-%d' % os.getpid()
        self.console = os.path.join(tmp, 'console.log')
        with open(self.console, 'wb') as out:
            self.proc = subprocess.Popen(
                ['systemd-nspawn', '--directory', root, '--boot',
                 '--volatile=overlay', '--register=no', '--keep-unit',
                 '--machine', self.name, '--console=pipe'] + binds,
                stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True)
        self.addCleanup(self._stop)
        self.pid = self._init_pid()
        self.wait_booted()

    def _init_pid(self, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError('systemd-nspawn exited %s: %s' % (
                    self.proc.returncode, self.console_output()))
            children = []
            for task in os.listdir('/proc/%d/task' % self.proc.pid):
                try:
                    with open('/proc/%d/task/%s/children'
                              % (self.proc.pid, task)) as f:
                        children += f.read().split()
                except OSError:
                    pass
            # nspawn's short-lived outer child comes first; the
            # container's PID 1 is the child that runs systemd.
            for child in children:
                try:
                    with open('/proc/%s/comm' % child) as f:
                        if f.read().strip() == 'systemd':
                            return int(child)
                except OSError:
                    pass
            time.sleep(0.1)
        raise AssertionError('no systemd in the container: %s'
                             % self.console_output())

    def wait_booted(self, timeout=90):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.run('systemctl', 'is-system-running', check=False)
            if state.stdout.strip() in ('running', 'degraded'):
                return state.stdout.strip()
            time.sleep(0.5)
        raise AssertionError('the container did not boot: %s %s %s' % (
            state.stdout, state.stderr, self.console_output()))

    def console_output(self):
        with open(self.console, errors='replace') as f:
            return f.read()[-4000:]

    def run(self, *args, check=True, timeout=240, input=None, cwd=None):
        """``args`` in the container; the CompletedProcess.

        ``cwd``: a directory in the container to run them in.
        """
        if cwd:
            args = ('sh', '-c', 'cd "$0" && exec "$@"', cwd) + args
        result = subprocess.run(
            ['nsenter', '--target', str(self.pid), '--all', '--'] +
            list(args), capture_output=True, text=True, timeout=timeout,
            input=input)
        if check and result.returncode:
            raise AssertionError('%s exited %d: %s %s' % (
                ' '.join(args), result.returncode, result.stdout,
                result.stderr))
        return result

    def show(self, unit, *props):
        """``systemctl show`` of ``props``, as {name: value}."""
        out = self.run('systemctl', 'show', unit, '--no-pager',
                       *('--property=' + p for p in props)).stdout
        return dict(line.split('=', 1) for line in out.splitlines()
                    if '=' in line)

    def journal(self, unit):
        return self.run('journalctl', '--unit', unit, '--no-pager',
                        '--output', 'short-monotonic').stdout

    def write(self, path, text):
        """Write ``text`` to ``path`` in the container (its overlay)."""
        self.run('sh', '-c', 'mkdir -p "$(dirname "$1")" && cat > "$1"',
                 'write', path, input=text)

    def _stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()  # nspawn halts the container
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait()
